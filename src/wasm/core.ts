// One instance of the WASM core over its own memory, with its typed kernels and its heap.
export type { Kernels } from './kernels.js';
import { BimambaError } from '../errors.js';
import { Heap, memoryCap, PAGE, WASM_MAX_BYTES } from './heap.js';
import type { Kernels } from './kernels.js';
import { compileCore, instantiateCore, type WasmSource } from './loader.js';
import { hostCores, threadsAvailable, ThreadPool } from './pool.js';
import { SPLIT_KERNELS } from './split-kernels.js';

export { SPLIT_KERNELS };

type Ptr = number;


export interface Core {
  kernels: Kernels;
  heap: Heap;
  memory: WebAssembly.Memory;
  /** Worker threads sharing `memory`, or null when the core runs on the calling thread alone. */
  pool: ThreadPool | null;
}

export interface CoreOptions {
  /** The WASM core: a precompiled module (required on Cloudflare Workers), bytes, a URL or a path. */
  wasm?: WasmSource;
  /**
   * The threads build of the core (dist/bimamba-threads.wasm, or -threads-relaxed): needed for threads
   * when `wasm` is given; without `wasm` the default one beside the bundle is used.
   */
  wasmThreads?: WasmSource;
  /** Cap on this instance's WASM memory in bytes (default and maximum: 4 GiB). */
  maxMemoryBytes?: number;
  /**
   * Threads for the big kernels: 'auto' (default) is this host's cores, at most 8; 1 runs on the calling
   * thread only. More than 1 needs SharedArrayBuffer (cross-origin isolation in browsers) and workers.
   * 'auto' runs single-threaded where either is missing, the threads build is not at hand, or the workers
   * do not start (model.threads then says 1); an explicit number, or an explicit `wasmThreads`, that
   * cannot be honoured is a THREADS error instead.
   */
  threads?: 'auto' | number;
}

const MAX_AUTO_THREADS = 8;

function checkThreads(threads: 'auto' | number): void {
  if (threads === 'auto') return;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new BimambaError('BAD_ARGUMENT', `invalid threads: ${JSON.stringify(threads)} ('auto' or an integer in [1, 64])`);
  }
}

/**
 * How many threads to run, from the options and what the host offers, and whether they were asked for
 * explicitly (a number above 1, or a threads build passed as `wasmThreads`): an explicit request that
 * cannot be met is an error. 'auto' quietly settles for one thread where the host has no shared memory or
 * workers, even with a `wasmThreads` (the same options then work in every host); a `wasmThreads` that is
 * given and fails to start is an error.
 */
async function threadCount(options: CoreOptions): Promise<{ threads: number; explicit: boolean }> {
  const asked = options.threads ?? 'auto';
  checkThreads(asked);
  if (asked === 1) return { threads: 1, explicit: false };
  const explicit = asked !== 'auto' || options.wasmThreads !== undefined;
  if (!threadsAvailable()) {
    if (asked !== 'auto') throw new BimambaError('THREADS', `${asked} threads were asked for, but this host has no SharedArrayBuffer or no workers (browsers need cross-origin isolation)`);
    return { threads: 1, explicit };
  }
  if (options.wasm !== undefined && options.wasmThreads === undefined) {
    if (explicit) throw new BimambaError('THREADS', `threads: ${asked} needs the threads build of the core: with \`wasm\`, pass \`wasmThreads\` too`);
    return { threads: 1, explicit }; // no threads build at hand
  }
  return { threads: asked === 'auto' ? Math.min(MAX_AUTO_THREADS, await hostCores()) : asked, explicit };
}


/** The threads build over a fresh shared memory, with its worker pool. */
async function createThreadedCore(options: CoreOptions, threads: number, cap: number): Promise<Core> {
  let pool: ThreadPool | null = null;
  try {
    const module = await compileCore(options.wasmThreads, { threads: true });
    // a shared memory must declare its maximum: the cap's pages
    const memory = new WebAssembly.Memory({ initial: 1, maximum: Math.max(1, Math.floor(cap / PAGE)), shared: true });
    const kernels = await instantiateCore(module, memory);
    pool = await ThreadPool.start(module, memory, threads, SPLIT_KERNELS);
    return { kernels, heap: new Heap(memory, kernels.heap_base(), cap), memory, pool };
  } catch (e) {
    pool?.dispose();
    throw e instanceof BimambaError && e.code === 'THREADS' ? e : new BimambaError('THREADS', `${threads} threads could not start: ${(e as Error).message}`, { cause: e });
  }
}

/** Instantiate the core over a fresh memory of its own (shared with worker threads when there are any). */
export async function createCore(options: CoreOptions = {}): Promise<Core> {
  const cap = memoryCap(options.maxMemoryBytes);
  const { threads, explicit } = await threadCount(options);
  if (threads > 1) {
    try {
      return await createThreadedCore(options, threads, cap);
    } catch (e) {
      if (explicit) throw e; // asked for: say why not
      // 'auto': the single-thread build always works, and model.threads is 1
    }
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: WASM_MAX_BYTES / PAGE });
  const kernels = await instantiateCore(await compileCore(options.wasm), memory);
  const heap = new Heap(memory, kernels.heap_base(), cap);
  return { kernels, heap, memory, pool: null };
}
