// The program every worker thread runs, as source text: Node starts it with `new Worker(text, { eval: true })`,
// browsers and Deno from a blob: URL. It is plain JavaScript in a string so that no bundler has to
// know about a second entry point, and it is the same in every host except for how it gets its messages.
//
// Protocol (src/wasm/pool.ts is the other side). A control block of Int32 slots on a SharedArrayBuffer:
//   [SEQ]     job counter: the main thread increments it to start a job
//   [PENDING] workers that have not finished the current job
//   [KERNEL]  index into the kernel names of the job, or -1: stop
//   [FAILED]  set to 1 by a worker whose kernel threw
// and, from byte ARGS_OFFSET, MAX_ARGS float64 arguments per thread (slot 0 is the main thread's).
// The worker instantiates the same module over the same shared memory, says 'ready', then serves
// jobs until told to stop: poll SEQ for SPIN_MS (jobs come in bursts while a model runs), then
// sleep in Atomics.wait.

export const SEQ = 0;
export const PENDING = 1;
export const KERNEL = 2;
export const FAILED = 3;
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 16;
/** How long a worker keeps polling for the next job before it sleeps (waking it costs ~30 µs). */
export const SPIN_MS = 2;
/** Polls of PENDING by the calling thread before it sleeps. */
export const SPIN_POLLS = 20000;

const serve = `
function serve(init, post) {
  var SEQ = ${SEQ}, PENDING = ${PENDING}, KERNEL = ${KERNEL}, FAILED = ${FAILED}, MAX_ARGS = ${MAX_ARGS}, SPIN_MS = ${SPIN_MS};
  WebAssembly.instantiate(init.module, { env: { memory: init.memory } }).then(function (instance) {
    var control = new Int32Array(init.control, 0, 16);
    var args = new Float64Array(init.control, ${ARGS_OFFSET}, (init.threads) * MAX_ARGS);
    var fns = init.names.map(function (n) { return instance.exports[n]; });
    var a = init.index * MAX_ARGS;
    post('ready');
    var seen = 0;
    for (;;) {
      var polls = 0, since = performance.now();
      while (Atomics.load(control, SEQ) === seen) {
        if ((++polls & 255) === 0 && performance.now() - since > SPIN_MS) Atomics.wait(control, SEQ, seen);
      }
      seen = Atomics.load(control, SEQ);
      var id = Atomics.load(control, KERNEL);
      if (id < 0) break;
      try {
        fns[id](args[a], args[a + 1], args[a + 2], args[a + 3], args[a + 4], args[a + 5], args[a + 6], args[a + 7],
          args[a + 8], args[a + 9], args[a + 10], args[a + 11], args[a + 12], args[a + 13], args[a + 14], args[a + 15]);
      } catch (e) {
        Atomics.store(control, FAILED, 1);
      }
      if (Atomics.sub(control, PENDING, 1) === 1) Atomics.notify(control, PENDING);
    }
    post('stopped');
  }, function (e) { post('error: ' + (e && e.message)); });
}
`;

/** For Node's worker_threads (eval'd as a CommonJS script). */
export const NODE_WORKER_SOURCE = `${serve}
var port = require('node:worker_threads').parentPort;
port.once('message', function (init) { serve(init, function (m) { port.postMessage(m); }); });
`;

/** For Web Workers (browsers, Deno), classic or module. */
export const WEB_WORKER_SOURCE = `${serve}
self.onmessage = function (event) { self.onmessage = null; serve(event.data, function (m) { self.postMessage(m); }); };
`;
