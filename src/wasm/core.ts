// One instance of the WASM core over its own memory, with its typed kernels and its heap.
import { BimambaError } from '../errors.js';
import { Heap } from './heap.js';
import { compileCore, instantiateCore, type WasmSource } from './loader.js';
import { hostCores, threadsAvailable, ThreadPool } from './pool.js';

type Ptr = number;

/** The kernels exported by assembly/index.ts; the ABI is documented in assembly/README.md. */
export interface Kernels {
  heapBase(): Ptr;
  onebit_scratch_bytes(K: number): number;
  onebit_gemv(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, N: number, K: number, scratch: Ptr): void;
  onebit_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, scratch: Ptr): void;
  onebit_lut_token_bytes(K: number): number;
  onebit_lut_scratch_bytes(K: number, T: number): number;
  onebit_lut_prepare(scratch: Ptr, x: Ptr, alpha: Ptr, beta: Ptr, T: number, K: number): void;
  onebit_lut_rows(y: Ptr, bits: Ptr, scratch: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  onebit_lut_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, scratch: Ptr): void;
  matmul_f32(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number): void;
  matmul_f16(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number): void;
  matmul_i8(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number): void;
  matmul_f32_rows(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  matmul_f16_rows(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  matmul_i8_rows(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  i8_fast_token_bytes(K: number): number;
  i8_fast_scratch_bytes(K: number, T: number): number;
  i8_fast_quantize(scratch: Ptr, x: Ptr, T: number, K: number): void;
  matmul_i8_fast_rows(y: Ptr, scratch: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  matmul_i8_fast(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, scratch: Ptr): void;
  add_bias(y: Ptr, b: Ptr, T: number, N: number): void;
  copy_cols(dst: Ptr, src: Ptr, T: number, srcStride: number, col0: number, width: number): void;
  row_f16_to_f32(y: Ptr, src: Ptr, n: number): void;
  row_i8_to_f32(y: Ptr, src: Ptr, scale: number, n: number): void;
  conv1d_step(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, C: number, W: number): void;
  conv1d_seq(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, T: number, C: number, W: number): void;
  scan1_step(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, D: number, N: number): void;
  scan1_seq(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, D: number, N: number): void;
  scan1_seq_channels(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, D: number, N: number, d0: number, d1: number): void;
  scan2_step(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, H: number, P: number, N: number, G: number): void;
  scan2_seq(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, N: number, G: number): void;
  scan2_seq_heads(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, N: number, G: number, i0: number, i1: number): void;
  rmsnorm(y: Ptr, x: Ptr, w: Ptr, T: number, D: number, eps: number): void;
  gated_rmsnorm(y: Ptr, x: Ptr, z: Ptr, w: Ptr, T: number, D: number, groupSize: number, eps: number): void;
  silu(y: Ptr, x: Ptr, n: number): void;
  softplus(y: Ptr, x: Ptr, n: number): void;
  exp_vec(y: Ptr, x: Ptr, n: number): void;
  mul_silu(y: Ptr, x: Ptr, z: Ptr, n: number): void;
  add(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  argmax(x: Ptr, n: number): number;
}

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
   * thread only. More than 1 needs SharedArrayBuffer (cross-origin isolation in browsers) and workers;
   * where either is missing, or the threads build is not at hand, the core runs single-threaded.
   */
  threads?: 'auto' | number;
}

const PAGE = 65536;
const MAX_AUTO_THREADS = 8;

/** The kernels the worker threads may run (ThreadPool.run refers to them by index). */
export const SPLIT_KERNELS = [
  'onebit_lut_rows', 'matmul_f32_rows', 'matmul_f16_rows', 'matmul_i8_rows', 'matmul_i8_fast_rows', 'scan2_seq_heads', 'scan1_seq_channels',
] as const;

function checkThreads(threads: 'auto' | number): void {
  if (threads === 'auto') return;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new BimambaError('BAD_ARGUMENT', `invalid threads: ${JSON.stringify(threads)} ('auto' or an integer in [1, 64])`);
  }
}

/** How many threads to run, from the option and what the host offers. */
async function threadCount(options: CoreOptions): Promise<number> {
  const asked = options.threads ?? 'auto';
  checkThreads(asked);
  if (asked === 1 || !threadsAvailable()) return 1;
  if (options.wasm !== undefined && options.wasmThreads === undefined) return 1; // no threads build at hand
  return asked === 'auto' ? Math.min(MAX_AUTO_THREADS, await hostCores()) : asked;
}

/** The threads build over a fresh shared memory, with its worker pool; null where that fails. */
async function createThreadedCore(options: CoreOptions, threads: number, maxPages: number): Promise<Core | null> {
  let pool: ThreadPool | null = null;
  try {
    const module = await compileCore(options.wasmThreads, { threads: true });
    const memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages, shared: true });
    const instance = await instantiateCore(module, memory);
    pool = await ThreadPool.start(module, memory, threads, SPLIT_KERNELS);
    const kernels = instance.exports as unknown as Kernels;
    return { kernels, heap: new Heap(memory, kernels.heapBase(), options.maxMemoryBytes), memory, pool };
  } catch {
    pool?.dispose();
    return null; // the single-thread build always works
  }
}

/** Instantiate the core over a fresh memory of its own (shared with worker threads when there are any). */
export async function createCore(options: CoreOptions = {}): Promise<Core> {
  const maxPages = Math.max(1, Math.min(65536, Math.floor((options.maxMemoryBytes ?? 2 ** 32) / PAGE)));
  const threads = await threadCount(options);
  if (threads > 1) {
    const core = await createThreadedCore(options, threads, maxPages);
    if (core) return core;
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const instance = await instantiateCore(await compileCore(options.wasm), memory);
  const kernels = instance.exports as unknown as Kernels;
  const heap = new Heap(memory, kernels.heapBase(), options.maxMemoryBytes);
  return { kernels, heap, memory, pool: null };
}
