// A tab's side of the shared model: connect to the SharedWorker that holds it (model-worker.js), or,
// where there is no SharedWorker, load the model in this tab (from the cache
// after the first visit). Either way `generate()` streams this tab's own tokens.
import { loadModel } from '../../dist/index.js';

/** Connect to the model at `url`: { shared, worker, source, loads, generate(prompt, options, onToken) → Promise<void> }. */
export async function connectModel(url) {
  if (typeof SharedWorker === 'undefined') {
    let source = 'network';
    const model = await loadModel(url, { cache: true, onProgress: (p) => (source = p.source ?? source) });
    return {
      shared: false,
      worker: null,
      source,
      loads: 1,
      async generate(prompt, options, onToken) {
        for await (const t of model.generate(prompt, options)) onToken(t);
      },
    };
  }
  const worker = new SharedWorker(new URL('./model-worker.js', import.meta.url), { type: 'module', name: url.href });
  const port = worker.port;
  const streams = new Map(); // id -> { onToken, resolve, reject }
  let nextId = 0;
  const ready = new Promise((resolve, reject) => {
    port.onmessage = ({ data }) => {
      if (data.type === 'ready') return resolve(data);
      const stream = streams.get(data.id);
      if (data.type === 'error' && !stream) return reject(new Error(data.message));
      if (!stream) return;
      if (data.type === 'token') stream.onToken(data);
      else {
        streams.delete(data.id);
        if (data.type === 'done') stream.resolve();
        else stream.reject(new Error(data.message));
      }
    };
  });
  const { loads, source, worker: id } = await ready;
  return {
    shared: true,
    worker: id,
    source,
    loads,
    generate(prompt, options, onToken) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        streams.set(id, { onToken, resolve, reject });
        port.postMessage({ type: 'generate', id, prompt, options });
      });
    },
  };
}
