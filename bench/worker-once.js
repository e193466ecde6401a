// A page's way to run a benchmark in a Web Worker: start the module worker at `url`, send it `options`,
// resolve with its one reply (reject on an `error` in it or a worker error), and end the worker.
export const workerOnce = (url, options) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(url, { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(new Error(data.error));
      else resolve(data);
    };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage(options);
  });
