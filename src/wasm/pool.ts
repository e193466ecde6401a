// A pool of worker threads sharing one WASM memory, for splitting a kernel's rows (or heads) between
// threads while the caller stays synchronous: run() cuts the work into pieces that every thread, the
// calling one included, takes one at a time until none are left (worker-source.ts has the protocol),
// then waits on Atomics for the pieces still running. A worker that is asleep or descheduled when a
// job starts (on a busy 2-core machine that is tens of µs) simply takes fewer pieces: the calling
// thread never waits for a worker to wake up.
// One set of workers serves every model of the process (as one process keeps one thread pool, not one
// per model): a model's pool is a lease on it that attaches the model's memory to the first threads - 1
// workers (started when there are fewer) and detaches it on dispose(); the workers end shortly after no
// model uses them (LINGER_MS, so that loading the next model right after reuses them), and never keep the
// process alive.
// Node: worker_threads. Browsers and Deno: Web Workers (cross-origin isolated pages only, where
// SharedArrayBuffer exists). Cloudflare Workers have neither: they run single-threaded.
import { BimambaError } from '../errors.js';
import * as host from '../host/node.js';
import {
  ALIGN, ARGS_OFFSET, CHUNKS, COUNT, DONE, FAILED, INSTANCE, KERNEL, MAX_ARGS, NARGS, NEXT, NODE_WORKER_SOURCE, pieceStart, SEQ, WEB_WORKER_SOURCE, WORKERS,
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
/** How long the workers outlive the last model that used them. */
export const LINGER_MS = 1000;
/** Most workers of the process (the threads option allows 64 threads). */
const MAX_WORKERS = 63;

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

/** A started worker and the replies it has not been waited for yet. */
interface Member {
  handle: WorkerHandle;
  waiters: Map<string, { resolve(): void; reject(e: Error): void }>;
}

/** The process's workers and their one control block (jobs of every model go through it, one at a time). */
class WorkerSet {
  readonly members: Member[] = [];
  readonly control = new SharedArrayBuffer(ARGS_OFFSET + 8 * MAX_ARGS);
  readonly c = new Int32Array(this.control, 0, 16);
  readonly args = new Float64Array(this.control, ARGS_OFFSET, MAX_ARGS);
  /** mail[i]: messages posted to worker i (it reads them when its count is behind). */
  readonly mail = new Int32Array(new SharedArrayBuffer(4 * MAX_WORKERS));
  seq = 0;
  users = 0;
  broken = false;
  private nextInstance = 1;
  private linger: ReturnType<typeof setTimeout> | null = null;

  /** Start workers until there are `n`. */
  async grow(n: number): Promise<void> {
    if (n > MAX_WORKERS) throw new Error(`at most ${MAX_WORKERS} worker threads`);
    while (this.members.length < n) {
      const handle = await startWorker();
      const started = ready(handle);
      handle.post({ control: this.control, mail: this.mail.buffer, index: this.members.length });
      try {
        await started;
      } catch (e) {
        handle.terminate();
        throw e;
      }
      const member: Member = { handle, waiters: new Map() };
      handle.onMessage((m) => {
        if (typeof m !== 'string') return;
        const key = m.startsWith('error ') ? `attached ${m.slice(6, m.indexOf(':'))}` : m;
        const w = member.waiters.get(key);
        member.waiters.delete(key);
        if (m.startsWith('error ')) w?.reject(new Error(m));
        else w?.resolve();
      });
      handle.onError((e) => {
        this.broken = true;
        for (const w of member.waiters.values()) w.reject(e instanceof Error ? e : new Error(String(e)));
        member.waiters.clear();
      });
      this.members.push(member);
    }
  }

  /** Post a message to worker i and wake the workers so that it reads it. */
  private post(i: number, message: unknown): void {
    this.members[i].handle.post(message);
    Atomics.add(this.mail, i, 1);
    Atomics.store(this.c, SEQ, ++this.seq);
    Atomics.notify(this.c, SEQ);
  }

  /** Instantiate the core over `memory` on workers 0..n-1; returns the instance's id for jobs. */
  async attach(n: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[]): Promise<number> {
    const id = this.nextInstance++;
    const replies: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const member = this.members[i];
      replies.push(new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('a worker thread did not take the model in time')), START_TIMEOUT_MS);
        member.waiters.set(`attached ${id}`, { resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      }));
      this.post(i, { attach: id, module, imports: importObject(memory), names });
    }
    try {
      await Promise.all(replies);
    } catch (e) {
      this.detach(id, n);
      throw e;
    }
    return id;
  }

  /** Drop the instance from workers 0..n-1 (its memory can then be freed). */
  detach(id: number, n: number): void {
    for (let i = 0; i < Math.min(n, this.members.length); i++) this.post(i, { detach: id });
  }

  use(): void {
    this.users++;
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
  }

  /** One model less; with none left, the workers end after LINGER_MS (at once if broken). */
  release(): void {
    if (--this.users > 0) return;
    const end = () => {
      if (this.users > 0) return;
      // wake the workers with the stop job first: one blocked in Atomics.wait is not always ended by
      // terminate() alone (Deno), and would keep the process alive
      Atomics.store(this.c, KERNEL, -1);
      Atomics.store(this.c, NEXT, 0);
      Atomics.store(this.c, SEQ, ++this.seq);
      Atomics.notify(this.c, SEQ);
      for (const m of this.members) m.handle.terminate();
      this.members.length = 0;
      if (shared === this) shared = null;
    };
    // Deno's web workers keep the process alive, and an unref'd timer does not end them: end at once there
    if (this.broken || 'Deno' in globalThis) return end();
    this.linger = setTimeout(end, LINGER_MS);
    (this.linger as { unref?(): void }).unref?.();
  }
}

/** The process's workers, while a model uses them (or for LINGER_MS after). */
let shared: WorkerSet | null = null;

/** Workers of the process that are running now (tests). */
export function workerCount(): number {
  return shared?.members.length ?? 0;
}

/**
 * What the bench reads of a pool's jobs (LoadOptions.poolStats): jobs handed to the workers, and the
 * milliseconds the calling thread spent inside them (from handing a job out to its last piece done).
 * Feeding time outside the jobs is the serial part: no worker has anything to run then.
 */
export interface PoolStats {
  jobs: number;
  parallelMs: number;
}

/** A model's lease on the process's workers: splits its kernels' work between them and the calling thread. */
export class ThreadPool {
  /** Threads doing the work, the calling thread included. */
  readonly threads: number;
  private readonly set: WorkerSet;
  private readonly instance: number;
  private readonly blocking: boolean;
  private broken = false;
  private disposed = false;
  /** Jobs cut into several pieces, by kernel index, and the pieces of them the workers took (tests read them). */
  readonly splitJobs: number[] = [];
  workerPieces = 0;
  /** Counted only when set (the bench's poolStats): off, a job costs one null check more. */
  stats: PoolStats | null = null;

  private constructor(set: WorkerSet, instance: number, threads: number) {
    this.set = set;
    this.instance = instance;
    this.threads = threads;
    this.blocking = canBlock();
  }

  /**
   * Attach `memory` (shared, with `module` a threads build instantiated over it) to `threads - 1` of the
   * process's workers, starting them where there are fewer. `names` are the kernels run() may be asked
   * for, by index.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, names: readonly string[]): Promise<ThreadPool> {
    if (!shared || shared.broken) shared = new WorkerSet();
    const set = shared;
    set.use();
    try {
      await set.grow(threads - 1);
      const instance = await set.attach(threads - 1, module, memory, names);
      return new ThreadPool(set, instance, threads);
    } catch (e) {
      set.release();
      throw new BimambaError('THREADS', `could not start ${threads - 1} worker threads: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Run kernel `names[id]` over [0, count): pieces cut at multiples of `align` go to whichever thread
   * takes them; a piece [start, end) runs as the kernel called with `args`, start, end. `self` runs a
   * piece on the calling thread (the same kernel, the same arguments). Returns once every piece is done.
   */
  run(id: number, args: readonly number[], count: number, align: number, self: (start: number, end: number) => void): void {
    const units = Math.ceil(count / align);
    const chunks = this.broken || this.disposed ? 1 : Math.min(units, this.threads * PIECES_PER_THREAD, 0xffff);
    if (chunks <= 1) {
      self(0, count);
      return;
    }
    if (args.length + 2 > MAX_ARGS + 2) throw new BimambaError('BAD_ARGUMENT', `a split kernel takes at most ${MAX_ARGS} arguments`);
    const stats = this.stats;
    const t0 = stats ? performance.now() : 0;
    const set = this.set;
    const c = set.c;
    const seq = ++set.seq;
    for (let j = 0; j < args.length; j++) set.args[j] = args[j];
    Atomics.store(c, NARGS, args.length);
    Atomics.store(c, KERNEL, id);
    Atomics.store(c, INSTANCE, this.instance);
    Atomics.store(c, WORKERS, this.threads - 1);
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
    if (stats) {
      stats.jobs++;
      stats.parallelMs += performance.now() - t0;
    }
    if (failure) throw failure;
    if (Atomics.exchange(c, FAILED, 0)) throw new BimambaError('THREADS', `kernel ${id} failed on a worker thread`);
  }

  /** Wait until `chunks` pieces are done. */
  private wait(chunks: number): void {
    const c = this.set.c;
    for (let polls = 0; polls < SPIN_POLLS; polls++) if (Atomics.load(c, DONE) >= chunks) return;
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= chunks) return;
      if (Date.now() > deadline) {
        this.broken = true; // from now on the calling thread does all the work
        this.set.broken = true; // and the next model starts workers of its own
        throw new BimambaError('THREADS', `a worker thread took a piece of work and did not finish it within ${JOB_TIMEOUT_MS / 1000} s`);
      }
      if (this.blocking) Atomics.wait(c, DONE, done, 100);
    }
  }

  /** Detach this model's memory from the workers and release them (they end when no model uses them). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.set.detach(this.instance, this.threads - 1);
    this.set.release();
  }
}
