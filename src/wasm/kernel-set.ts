// The kernels a model runs: the core's exports with the big ones swapped for
//  - the fast path (unless `exact`): 1-bit projections through lookup tables of 12-bit activations
//    (onebit_lut.ts), int8 weights (the LM head) through 16-bit x int8 dot products (matmul_i8_fast.ts);
//  - split between threads when the core has a worker pool: matmul rows, 1-bit rows, scan heads.
// Everything else (norms, conv, activations) runs as it is on the calling thread.
//
// The result has the Kernels signatures, so the model graph calls it like the plain exports. The fast
// kernels keep their tables in a scratch block of their own, sized here for up to `maxT` tokens of up
// to `maxK` inputs; they ignore the `scratch` argument of onebit_gemv / onebit_gemm.
//
// Splitting never changes results: each row (head) is computed by the same code whichever thread runs
// it. The fast path differs from the exact one by its stated bounds (assembly/README.md).
import { BimambaError } from '../errors.js';
import { SPLIT_KERNELS, type Core, type Kernels } from './core.js';

type Ptr = number;

export interface KernelSetOptions {
  /** Run the exact f32 kernels (false: the fast paths). */
  exact: boolean;
  /** Most tokens one call handles (the prefill chunk). */
  maxT: number;
  /** Largest input size of a 1-bit or int8 projection. */
  maxK: number;
}

export interface KernelSet {
  kernels: Kernels;
  /** The heap block holding the fast kernels' scratch (0 when exact). */
  scratchBlock: Ptr;
  threads: number;
}

const kernelIndex = (name: (typeof SPLIT_KERNELS)[number]) => SPLIT_KERNELS.indexOf(name);
const ONEBIT_ROWS = kernelIndex('onebit_lut_rows');
const I8_FAST_ROWS = kernelIndex('matmul_i8_fast_rows');
const F32_ROWS = kernelIndex('matmul_f32_rows');
const F16_ROWS = kernelIndex('matmul_f16_rows');
const I8_ROWS = kernelIndex('matmul_i8_rows');
const SCAN2_HEADS = kernelIndex('scan2_seq_heads');
const SCAN1_CHANNELS = kernelIndex('scan1_seq_channels');

/**
 * A call is split only when it would take the calling thread at least this long alone: below it, the
 * hand-over and the odd late worker (on a busy 2-core machine a worker can be descheduled for tens of
 * µs) cost more than the half saved. Small models then run their projections on one thread.
 */
const MIN_SPLIT_MICROSECONDS = 50;
/** Rough single-thread speeds (multiply-adds, or state values, per µs) to estimate a call's time. */
const SPEED = { onebit: 60_000, int8Fast: 15_000, dense: 4_000, scan: 3_000 };

/** Bytes of the fast kernels' scratch block for these options (0 on the exact path). */
export function kernelSetScratchBytes(k: Kernels, options: KernelSetOptions): number {
  if (options.exact) return 0;
  return k.onebit_lut_scratch_bytes(options.maxK, options.maxT) + k.i8_fast_scratch_bytes(options.maxK, options.maxT);
}

export function createKernelSet(core: Core, options: KernelSetOptions): KernelSet {
  const raw = core.kernels;
  const pool = core.pool;
  const { maxT, maxK } = options;
  const k: Kernels = Object.create(null);
  for (const name of Object.keys(raw) as (keyof Kernels)[]) (k as unknown as Record<string, unknown>)[name] = raw[name];

  /** Run a split kernel's [0, count) on the pool, or inline when single-threaded or too small (`micros`: its estimated time alone). */
  const split = (id: number, args: number[], count: number, align: number, micros: number, self: (a: number, b: number) => void) => {
    if (!pool || micros < MIN_SPLIT_MICROSECONDS) self(0, count);
    else pool.run(id, args, count, align, self);
  };
  const checkSize = (T: number, K: number, what: string) => {
    if (T > maxT || K > maxK) {
      throw new BimambaError('BAD_ARGUMENT', `${what}: ${T} tokens of ${K} inputs in one call; the fast kernels' scratch holds ${maxT} of ${maxK}`);
    }
  };

  // dense matmuls: rows split, exact arithmetic either way
  k.matmul_f32 = (y, x, w, T, N, K) =>
    split(F32_ROWS, [y, x, w, T, N, K], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_f32_rows(y, x, w, T, N, K, a, b));
  k.matmul_f16 = (y, x, w, T, N, K) =>
    split(F16_ROWS, [y, x, w, T, N, K], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_f16_rows(y, x, w, T, N, K, a, b));
  // scans: heads (channels) split, exact either way
  k.scan2_seq = (y, x, dt, A, B, C, Dskip, h, T, H, P, N, G) =>
    split(SCAN2_HEADS, [y, x, dt, A, B, C, Dskip, h, T, H, P, N, G], H, 1, (T * H * P * N) / SPEED.scan, (a, b) => raw.scan2_seq_heads(y, x, dt, A, B, C, Dskip, h, T, H, P, N, G, a, b));
  k.scan2_step = (y, x, dt, A, B, C, Dskip, h, H, P, N, G) => k.scan2_seq(y, x, dt, A, B, C, Dskip, h, 1, H, P, N, G);
  k.scan1_seq = (y, x, dt, A, B, C, Dskip, h, T, D, N) =>
    split(SCAN1_CHANNELS, [y, x, dt, A, B, C, Dskip, h, T, D, N], D, 4, (T * D * N) / SPEED.scan, (a, b) => raw.scan1_seq_channels(y, x, dt, A, B, C, Dskip, h, T, D, N, a, b));
  k.scan1_step = (y, x, dt, A, B, C, Dskip, h, D, N) => k.scan1_seq(y, x, dt, A, B, C, Dskip, h, 1, D, N);

  if (options.exact) {
    k.matmul_i8 = (y, x, w, scale, T, N, K) =>
      split(I8_ROWS, [y, x, w, scale, T, N, K], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_i8_rows(y, x, w, scale, T, N, K, a, b));
    return { kernels: k, scratchBlock: 0, threads: pool?.threads ?? 1 };
  }

  // fast path: one scratch block for the 1-bit tables and the int8 activations
  const lutBytes = raw.onebit_lut_scratch_bytes(maxK, maxT);
  const scratchBlock = core.heap.alloc(kernelSetScratchBytes(raw, options), 'fast kernel scratch');
  const lut = scratchBlock, i8q = scratchBlock + lutBytes;

  const onebit = (y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number) => {
    checkSize(T, K, '1-bit projection');
    raw.onebit_lut_prepare(lut, x, alpha, beta, T, K);
    split(ONEBIT_ROWS, [y, bits, lut, T, N, K], N, 16, (T * N * K) / SPEED.onebit, (a, b) => raw.onebit_lut_rows(y, bits, lut, T, N, K, a, b));
  };
  k.onebit_gemv = (y, x, bits, alpha, beta, N, K) => onebit(y, x, bits, alpha, beta, 1, N, K);
  k.onebit_gemm = (y, x, bits, alpha, beta, T, N, K) => onebit(y, x, bits, alpha, beta, T, N, K);
  k.matmul_i8 = (y, x, w, scale, T, N, K) => {
    checkSize(T, K, 'int8 projection');
    raw.i8_fast_quantize(i8q, x, T, K);
    split(I8_FAST_ROWS, [y, i8q, w, scale, T, N, K], N, 4, (T * N * K) / SPEED.int8Fast, (a, b) => raw.matmul_i8_fast_rows(y, i8q, w, scale, T, N, K, a, b));
  };
  return { kernels: k, scratchBlock, threads: pool?.threads ?? 1 };
}
