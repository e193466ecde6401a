// A pool of worker threads sharing one WASM memory, for splitting a kernel's rows (or heads) between
// threads while the caller stays synchronous: run() cuts the work into pieces that every thread, the
// calling one included, takes one at a time until none are left (worker-source.ts has the protocol),
// then waits on Atomics for the pieces still running. A worker that is asleep or descheduled when a
// job starts (on a busy 2-core machine that is tens of µs) simply takes fewer pieces: the calling
// thread never waits for a worker to wake up.
// Node: worker_threads. Browsers and Deno: Web Workers (cross-origin isolated pages only, where
// SharedArrayBuffer exists). Cloudflare Workers have neither: they run single-threaded.
import { BimambaError } from '../errors.js';
import * as host from '../host/node.js';
import {
  ALIGN, ARGS_OFFSET, CHUNKS, COUNT, DONE, FAILED, KERNEL, MAX_ARGS, NARGS, NEXT, NODE_WORKER_SOURCE, pieceStart, SEQ, WEB_WORKER_SOURCE,
} from './worker-source.js';
import { importObject } from './loader.js';

/** What the pool needs of a worker, in either host. */
interface WorkerHandle {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onError(listener: (error: unknown) => void): void;
  terminate(): void;
}

/** Longest a worker may take to start. */
const START_TIMEOUT_MS = 30_000;
/** Longest the calling thread waits for a piece a worker took (a worker that died mid-piece never finishes it). */
const JOB_TIMEOUT_MS = 120_000;
/** Pieces per thread: small enough that a descheduled worker delays little, large enough to be cheap. */
const PIECES_PER_THREAD = 2;
/** Polls of DONE by the calling thread before it sleeps. */
const SPIN_POLLS = 20000;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as { Deno?: unknown }).Deno === 'undefined';

/** Whether this host could run a pool at all: shared memory, Atomics, and a way to start workers. */
export function threadsAvailable(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  return isNode || typeof Worker === 'function';
}

/** Logical cores of this host (1 when it does not say). */
export async function hostCores(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  if (isNode) {
    const os = await host.os();
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return 1;
}

async function startWorker(): Promise<WorkerHandle> {
  if (isNode) {
    const { Worker: NodeWorker } = await host.workerThreads();
    const w = new NodeWorker(NODE_WORKER_SOURCE, { eval: true });
    // an idle pool never keeps the process alive; unref() again after each listener, since adding a
    // 'message' listener refs the worker's port again
    w.unref();
    return {
      post: (m) => w.postMessage(m),
      onMessage: (l) => { w.on('message', l); w.unref(); },
      onError: (l) => { w.on('error', l); w.on('exit', (code) => l(new Error(`worker exited with code ${code}`))); w.unref(); },
      terminate: () => void w.terminate(),
    };
  }
  const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
  try {
    const w = new Worker(url, { type: 'module' });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (l) => w.addEventListener('message', (e) => l((e as MessageEvent).data)),
      onError: (l) => w.addEventListener('error', (e) => l(e)),
      terminate: () => w.terminate(),
    };
  } finally {
    const timer = setTimeout(() => URL.revokeObjectURL(url), START_TIMEOUT_MS);
    // Deno waits for pending timers before it exits: this one must not keep a finished script alive 30 s
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer as unknown as number);
  }
}

/** Wait for a worker's first message: 'ready', or a failure. */
function ready(w: WorkerHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a worker thread did not start in time')), START_TIMEOUT_MS);
    w.onMessage((m) => {
      clearTimeout(timer);
      if (m === 'ready') resolve();
      else if (typeof m === 'string' && m.startsWith('error')) reject(new Error(m));
    });
    w.onError((e) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String((e as { message?: unknown })?.message ?? e))); });
  });
}

/** Whether this thread may block in Atomics.wait (not on a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export class ThreadPool {
  /** Threads doing the work, the calling thread included. */
  readonly threads: number;
  private readonly workers: WorkerHandle[];
  private readonly control: Int32Array;
  private readonly args: Float64Array;
  private readonly blocking: boolean;
  private seq = 0;
  private broken = false;
  /** Jobs cut into several pieces, by kernel index, and the pieces of them the workers took (tests read them). */
  readonly splitJobs: number[] = [];
  workerPieces = 0;

  private constructor(workers: WorkerHandle[], control: SharedArrayBuffer) {
    this.workers = workers;
    this.threads = workers.length + 1;
    this.control = new Int32Array(control, 0, 16);
    this.args = new Float64Array(control, ARGS_OFFSET, MAX_ARGS);
    this.blocking = canBlock();
  }

  /**
   * Start `threads - 1` workers, each instantiating `module` (a threads build) over the shared
   * `memory`. `names` are the kernels run() may be asked for, by index.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, names: readonly string[]): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(ARGS_OFFSET + 8 * MAX_ARGS);
    const workers: WorkerHandle[] = [];
    try {
      for (let i = 1; i < threads; i++) workers.push(await startWorker());
      const started = workers.map(ready);
      for (const w of workers) w.post({ module, imports: importObject(memory), control, names });
      await Promise.all(started);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new BimambaError('THREADS', `could not start ${threads - 1} worker threads: ${(e as Error).message}`, { cause: e });
    }
    return new ThreadPool(workers, control);
  }

  /**
   * Run kernel `names[id]` over [0, count): pieces cut at multiples of `align` go to whichever thread
   * takes them; a piece [start, end) runs as the kernel called with `args`, start, end. `self` runs a
   * piece on the calling thread (the same kernel, the same arguments). Returns once every piece is done.
   */
  run(id: number, args: readonly number[], count: number, align: number, self: (start: number, end: number) => void): void {
    const units = Math.ceil(count / align);
    const chunks = this.broken ? 1 : Math.min(units, this.threads * PIECES_PER_THREAD, 0xffff);
    if (chunks <= 1) {
      self(0, count);
      return;
    }
    if (args.length + 2 > MAX_ARGS + 2) throw new BimambaError('BAD_ARGUMENT', `a split kernel takes at most ${MAX_ARGS} arguments`);
    const c = this.control;
    const seq = ++this.seq;
    for (let j = 0; j < args.length; j++) this.args[j] = args[j];
    Atomics.store(c, NARGS, args.length);
    Atomics.store(c, KERNEL, id);
    Atomics.store(c, CHUNKS, chunks);
    Atomics.store(c, COUNT, count);
    Atomics.store(c, ALIGN, align);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, NEXT, (seq & 0xffff) << 16);
    Atomics.store(c, SEQ, seq);
    Atomics.notify(c, SEQ);
    // take pieces like any worker; after a failure, take the rest without running them
    let failure: unknown = null;
    let mine = 0;
    for (;;) {
      const next = Atomics.add(c, NEXT, 1) & 0xffff; // only this thread moves NEXT past the job's tag
      if (next >= chunks) break;
      mine++;
      if (failure === null) {
        try {
          self(pieceStart(next, chunks, count, align), pieceStart(next + 1, chunks, count, align));
        } catch (e) {
          failure = e;
        }
      }
      Atomics.add(c, DONE, 1);
    }
    this.wait(chunks);
    this.splitJobs[id] = (this.splitJobs[id] ?? 0) + 1;
    this.workerPieces += chunks - mine;
    if (failure) throw failure;
    if (Atomics.exchange(c, FAILED, 0)) throw new BimambaError('THREADS', `kernel ${id} failed on a worker thread`);
  }

  /** Wait until `chunks` pieces are done. */
  private wait(chunks: number): void {
    const c = this.control;
    for (let polls = 0; polls < SPIN_POLLS; polls++) if (Atomics.load(c, DONE) >= chunks) return;
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= chunks) return;
      if (Date.now() > deadline) {
        this.broken = true; // from now on the calling thread does all the work
        throw new BimambaError('THREADS', `a worker thread took a piece of work and did not finish it within ${JOB_TIMEOUT_MS / 1000} s`);
      }
      if (this.blocking) Atomics.wait(c, DONE, done, 100);
    }
  }

  /** Stop and end every worker. */
  dispose(): void {
    const c = this.control;
    Atomics.store(c, KERNEL, -1);
    Atomics.store(c, NEXT, 0);
    Atomics.store(c, SEQ, ++this.seq);
    Atomics.notify(c, SEQ);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.broken = true;
  }
}
