// The program every worker thread runs, as source text: Node starts it with `new Worker(text, { eval: true })`,
// browsers and Deno from a blob: URL. It is plain JavaScript in a string so that no bundler has to
// know about a second entry point, and it is the same in every host except for how it gets its messages.
//
// Protocol (src/wasm/pool.ts is the other side). The workers are shared by every model of the process:
// each holds one instance of the core per model memory it serves (attached and detached by messages), and
// a job names the instance it runs on. A worker in its job loop reads no messages: the pool counts the
// messages it posts to worker i in mail[i] and wakes the workers; a worker whose count of handled
// messages is behind leaves the loop, reads them, and comes back. A job is a kernel run over [0, COUNT) cut into CHUNKS
// pieces at multiples of ALIGN; every thread, the calling one included, takes pieces until none are
// left, so a worker that is asleep or descheduled just takes fewer (or none). The control block holds
// Int32 slots on a SharedArrayBuffer:
//   [SEQ]    job counter: the calling thread increments it to start a job
//   [NEXT]   (SEQ & 0xffff) << 16 | the next piece to take: taken with compareExchange, so a thread
//            that wakes up after its job is over cannot take a piece of the next one
//   [DONE]   pieces finished
//   [KERNEL] index into the kernel names, or -1: stop
//   [CHUNKS] [COUNT] [ALIGN]  the job's pieces: piece i is [units*i/CHUNKS, units*(i+1)/CHUNKS) in
//            units of ALIGN (rounded down), capped at COUNT; units = ceil(COUNT / ALIGN)
//   [NARGS]  the kernel's own arguments, then each piece appends its start and end
//   [FAILED] set to 1 by a worker whose kernel threw
//   [INSTANCE] the instance (model) the job runs on   [WORKERS] only workers 0..WORKERS-1 take pieces
// and, from byte ARGS_OFFSET, the job's arguments as float64.

export const SEQ = 0;
export const NEXT = 1;
export const DONE = 2;
export const KERNEL = 3;
export const CHUNKS = 4;
export const COUNT = 5;
export const ALIGN = 6;
export const NARGS = 7;
export const FAILED = 8;
export const INSTANCE = 9;
export const WORKERS = 10;
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 24;
/** How long a worker keeps polling for the next job before it sleeps (waking it costs ~30 µs). */
export const SPIN_MS = 2;

/** Where piece i of [0, count), cut into `chunks` pieces at multiples of `align`, starts (pool.ts; the worker has the same line). */
export function pieceStart(i: number, chunks: number, count: number, align: number): number {
  return Math.min(count, Math.floor((Math.ceil(count / align) * i) / chunks) * align);
}

const serve = `
function serve(init, post, listen, collect) {
  var SEQ = ${SEQ}, NEXT = ${NEXT}, DONE = ${DONE}, KERNEL = ${KERNEL}, CHUNKS = ${CHUNKS}, COUNT = ${COUNT}, ALIGN = ${ALIGN};
  var NARGS = ${NARGS}, FAILED = ${FAILED}, INSTANCE = ${INSTANCE}, WORKERS = ${WORKERS}, SPIN_MS = ${SPIN_MS};
  function pieceStart(i, chunks, count, align) {
    return Math.min(count, Math.floor((Math.ceil(count / align) * i) / chunks) * align);
  }
  var control = new Int32Array(init.control, 0, 16);
  var args = new Float64Array(init.control, ${ARGS_OFFSET}, ${MAX_ARGS});
  var mail = new Int32Array(init.mail);
  var index = init.index;
  var instances = new Map(); // instance id -> its kernels, by split-kernel index
  var handled = 0; // messages read (mail[index] counts those posted)
  var call = new Array(${MAX_ARGS} + 2).fill(0); // one kernel call's arguments, reused
  var seen = Atomics.load(control, SEQ);
  function take() {
    var tag = Atomics.load(control, SEQ) & 0xffff;
    for (;;) {
      var next = Atomics.load(control, NEXT);
      if (next >>> 16 !== tag) return; // that job is over
      var chunks = Atomics.load(control, CHUNKS);
      if ((next & 0xffff) >= chunks || index >= Atomics.load(control, WORKERS)) return; // none left, or not for us
      if (Atomics.compareExchange(control, NEXT, next, next + 1) !== next) continue;
      // the piece is ours, and the job cannot end before we are done: its data is stable
      var i = next & 0xffff, count = Atomics.load(control, COUNT), align = Atomics.load(control, ALIGN);
      var nargs = Atomics.load(control, NARGS);
      for (var j = 0; j < nargs; j++) call[j] = args[j];
      call[nargs] = pieceStart(i, chunks, count, align);
      call[nargs + 1] = pieceStart(i + 1, chunks, count, align);
      try {
        instances.get(Atomics.load(control, INSTANCE))[Atomics.load(control, KERNEL)].apply(null, call);
      } catch (e) {
        Atomics.store(control, FAILED, 1);
      }
      if (Atomics.add(control, DONE, 1) + 1 === chunks) Atomics.notify(control, DONE);
    }
  }
  // the job loop, until a message waits
  function loop() {
    for (;;) {
      if (Atomics.load(mail, index) !== handled) return;
      if (Atomics.load(control, KERNEL) === -1) return; // the pool ends: idle in the event loop, where terminate() ends the thread
      take();
      var polls = 0, since = performance.now();
      while (Atomics.load(control, SEQ) === seen) {
        if ((++polls & 255) === 0 && performance.now() - since > SPIN_MS) Atomics.wait(control, SEQ, seen);
      }
      seen = Atomics.load(control, SEQ);
    }
  }
  var queue = Promise.resolve();
  function read(m) {
    queue = queue.then(function () {
      if (m.attach !== undefined) {
        return WebAssembly.instantiate(m.module, m.imports).then(function (instance) { // loader.ts importObject()
          instances.set(m.attach, m.names.map(function (n) { return instance.exports[n]; }));
          post('attached ' + m.attach);
        }, function (e) { post('error ' + m.attach + ': ' + (e && e.message)); });
      }
      if (m.detach !== undefined) {
        instances.delete(m.detach);
        // this thread seldom allocates, so its GC would not run for a long time, and the model's memory,
        // shared with it, would stay allocated until it did
        if (collect) collect();
      }
    }).then(function () {
      handled++;
      if (Atomics.load(mail, index) === handled) loop();
    });
  }
  listen(read); // before the loop: messages posted while it runs wait for it to return
  post('ready');
  loop();
}
`;

/** For Node's worker_threads (eval'd as a CommonJS script). */
export const NODE_WORKER_SOURCE = `${serve}
var port = require('node:worker_threads').parentPort;
// Node: a full GC of this thread once a model's instance is dropped (see serve), by V8's gc function
var collect = null;
try {
  require('node:v8').setFlagsFromString('--expose-gc');
  collect = require('node:vm').runInNewContext('gc');
} catch (e) {}
port.once('message', function (init) {
  serve(init, function (m) { port.postMessage(m); }, function (read) { port.on('message', read); }, collect);
});
`;

/** For Web Workers (browsers, Deno), classic or module. */
export const WEB_WORKER_SOURCE = `${serve}
self.onmessage = function (event) {
  serve(event.data, function (m) { self.postMessage(m); }, function (read) { self.onmessage = function (e) { read(e.data); }; });
};
`;
