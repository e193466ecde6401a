// The operations the model graph runs (src/model/forward.ts calls these names and nothing else), and
// the kernels behind each one:
//  - linear: a projection in its storage (f32, f16, int8 rows, 4-bit groups, 1-bit signs). On the fast
//    path (unless `exact`) 1-bit projections go through lookup tables of 12-bit activations
//    (onebit_fast.ts) and int8 and 4-bit ones (the LM head) through 16-bit dot products (i8_fast.ts,
//    q4_fast.ts); on the exact path through the f32 kernels (onebit.ts, matmul.ts, q4.ts).
//  - scan1/scan2: the SSM state stored as f32 or, with `stateType: 'bf16'`, as bfloat16 (state.ts).
//  - split between threads when the core has a worker pool: matmul rows, 1-bit rows, scan heads
//    (channels), conv channels, gated-norm tokens. The small rest (the block norms, activations, adds)
//    runs as it is on the calling thread.
// The kernel set owns the scratch its kernels need (the fast path's tables, the exact 1-bit tables),
// sized here for up to `maxT` tokens of up to `maxK` inputs.
//
// Splitting never changes results: each row (head) is computed by the same code whichever thread runs
// it. The fast path differs from the exact one by its stated bounds (assembly/README.md).
//
// Argument convention (as the kernels, assembly/README.md): output first, then inputs, then sizes, then
// row strides (in floats) of the inputs that may be views into a wider buffer.
import { BimambaError } from '../errors.js';
import { SPLIT_KERNELS, type Core, type Kernels } from './core.js';

type Ptr = number;

/** A linear layer `y[T, N] = x[T, K] · W^T (+ bias)` in the storage the file chose; bias 0: none. */
export type Projection =
  | { kind: 'f32' | 'f16'; N: number; K: number; w: Ptr; bias: Ptr }
  | { kind: 'i8' | 'q4'; N: number; K: number; w: Ptr; scale: Ptr; bias: Ptr }
  | { kind: 'onebit'; N: number; K: number; bits: Ptr; alpha: Ptr; beta: Ptr; bias: Ptr };

/** What the model graph runs. Shapes and strides as in assembly/README.md. */
export interface Ops {
  /**
   * y[T, p.N] = x[T, p.K] · W^T (+ bias); x rows `xStride` floats apart (default p.K). x and y must have
   * room for the kernel set's maxT rows: the rows past T may be read and written (padding, see onebitFastRows).
   */
  linear(p: Projection, y: Ptr, x: Ptr, T: number, xStride?: number): void;
  /** silu of the causal depthwise conv: y[T, channels] from x rows `xStride` apart, state [channels, W-1] updated. */
  conv1dSilu(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, T: number, channels: number, W: number, xStride: number): void;
  /** Mamba-1 selective scan: y, x, dt [T, channels]; B, C rows of S `bcStride` apart; h [channels, S] updated. */
  scan1(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, channels: number, S: number, bcStride: number): void;
  /** Mamba-2 SSD scan: y [T, H*P]; x rows `xStride` apart; B, C rows of G*S `bcStride` apart; dt [T, H]; h [H, P, S] updated. */
  scan2(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, xStride: number, bcStride: number): void;
  /** dt[T, H] = clamp(softplus(x + bias), lo, hi), x rows `xStride` apart. */
  dtSoftplus(dt: Ptr, x: Ptr, bias: Ptr, T: number, H: number, xStride: number, lo: number, hi: number): void;
  softplus(y: Ptr, x: Ptr, n: number): void;
  /** y[T, width] = x * silu(z), z rows `zStride` apart. */
  mulSilu(y: Ptr, x: Ptr, z: Ptr, T: number, width: number, zStride: number): void;
  rmsnorm(y: Ptr, x: Ptr, w: Ptr, T: number, width: number, eps: number): void;
  /** RMSNorm per group of x * silu(z), z rows `zStride` apart. */
  gatedRmsnorm(y: Ptr, x: Ptr, z: Ptr, w: Ptr, T: number, width: number, groupSize: number, eps: number, zStride: number): void;
  add(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  rowF16ToF32(y: Ptr, src: Ptr, n: number): void;
  rowI8ToF32(y: Ptr, src: Ptr, scale: number, n: number): void;
  /** One row of a 4-bit head (its packed bytes, its bf16 scales) as n f32. */
  rowQ4ToF32(y: Ptr, src: Ptr, scale: Ptr, n: number): void;
  /** Index of the largest of x[n] (the first on ties, the first NaN if any; -1 for n = 0): greedy decoding. */
  argmax(x: Ptr, n: number): number;
}

export interface KernelSetOptions {
  /** Run the exact f32 kernels (false: the fast paths). */
  exact: boolean;
  /** Most tokens one call handles (the prefill chunk). */
  maxT: number;
  /** Largest input size of a 1-bit or int8 projection. */
  maxK: number;
  /** How the SSM state is stored: the scans read and write it as f32 or as bf16 (default f32). */
  stateType?: 'f32' | 'bf16';
  /** Values of one layer's SSM state: a bf16 state is widened into f32 scratch of this size for prefill. */
  stateValues: number;
}

const kernelIndex = (name: (typeof SPLIT_KERNELS)[number]) => SPLIT_KERNELS.indexOf(name);
const ONEBIT_FAST_ROWS = kernelIndex('onebit_fast_rows');
const I8_FAST_ROWS = kernelIndex('i8_fast_rows');
const F32_ROWS = kernelIndex('matmul_f32_rows');
const F16_ROWS = kernelIndex('matmul_f16_rows');
const I8_ROWS = kernelIndex('matmul_i8_rows');
const Q4_FAST_ROWS = kernelIndex('q4_fast_rows');
const Q4_ROWS = kernelIndex('matmul_q4_rows');
const SCAN2_HEADS = kernelIndex('scan2_heads');
const SCAN2_HEADS_BF16 = kernelIndex('scan2_heads_bf16');
const SCAN1_CHANNELS = kernelIndex('scan1_channels');
const SCAN1_CHANNELS_BF16 = kernelIndex('scan1_channels_bf16');
const CONV1D_CHANNELS = kernelIndex('conv1d_channels');
const GATED_RMSNORM_ROWS = kernelIndex('gated_rmsnorm_rows');

/**
 * A call is split only when it would take the calling thread at least this long alone: below it, the
 * hand-over and the odd late worker (on a busy 2-core machine a worker can be descheduled for tens of
 * µs) cost more than the half saved. Small models then run their projections on one thread.
 */
const MIN_SPLIT_MICROSECONDS = 50;
/** Tokens of one batch of the fast 1-bit kernels (the token-major tables of onebit_fast.ts). */
const ONEBIT_BATCH = 16;
/**
 * From this many tokens past the whole batches on, the fast 1-bit projection computes a whole batch of
 * 16 instead (the rows past T are padding nobody reads): a batch costs about 8.5 single-token passes
 * (780M in_proj: 74 µs a token at T = 64 against 140 alone). Decoding batches of 9-15 sessions gain.
 */
const ONEBIT_PAD_FROM = 9;
/** Rough single-thread speeds (multiply-adds, or state values, per µs) to estimate a call's time. */
const SPEED = { onebit: 60_000, int8Fast: 15_000, q4Fast: 20_000, dense: 4_000, scan: 3_000, elementwise: 400 };

/** Bytes of the kernel set's scratch block for these options. */
export function kernelSetScratchBytes(k: Kernels, options: KernelSetOptions): number {
  const scan = options.stateType === 'bf16' ? 4 * options.stateValues : 0;
  if (options.exact) return k.onebit_scratch_bytes(options.maxK) + scan;
  return k.onebit_fast_scratch_bytes(options.maxK, options.maxT) + k.i8_fast_scratch_bytes(options.maxK, options.maxT) + scan;
}

/** The graph's operations over `core`, with their scratch allocated from its heap. */
export function createOps(core: Core, options: KernelSetOptions): Ops {
  const raw = core.kernels;
  const pool = core.pool;
  const { maxT, maxK } = options;

  /** Run a split kernel's [0, count) on the pool, or inline when single-threaded or too small (`micros`: its estimated time alone). */
  const split = (id: number, args: number[], count: number, align: number, micros: number, self: (a: number, b: number) => void) => {
    if (!pool || micros < MIN_SPLIT_MICROSECONDS) self(0, count);
    else pool.run(id, args, count, align, self);
  };
  const checkSize = (T: number, K: number, what: string) => {
    if (T > maxT || K > maxK) {
      throw new BimambaError('BAD_ARGUMENT', `${what}: ${T} tokens of ${K} inputs in one call; the kernel scratch holds ${maxT} of ${maxK}`);
    }
  };

  const scratch = core.heap.alloc(kernelSetScratchBytes(raw, options), 'kernel scratch');
  const onebitTables = scratch, i8Quantized = scratch + raw.onebit_fast_scratch_bytes(maxK, maxT); // fast path
  const signTables = scratch; // exact path
  const wideState = scratch + kernelSetScratchBytes(raw, { ...options, stateType: 'f32' }); // a bf16 state widened, at its end

  // dense matmuls: rows split, exact arithmetic either way
  const f32 = (y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xs: number) =>
    split(F32_ROWS, [y, x, w, T, N, K, xs], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_f32_rows(y, x, w, T, N, K, xs, a, b));
  const f16 = (y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xs: number) =>
    split(F16_ROWS, [y, x, w, T, N, K, xs], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_f16_rows(y, x, w, T, N, K, xs, a, b));
  const i8Exact = (y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xs: number) =>
    split(I8_ROWS, [y, x, w, scale, T, N, K, xs], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_i8_rows(y, x, w, scale, T, N, K, xs, a, b));
  const i8Fast = (y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xs: number) => {
    checkSize(T, K, 'int8 projection');
    raw.i8_fast_prepare(i8Quantized, x, T, K, xs);
    split(I8_FAST_ROWS, [y, i8Quantized, w, scale, T, N, K], N, 4, (T * N * K) / SPEED.int8Fast, (a, b) => raw.i8_fast_rows(y, i8Quantized, w, scale, T, N, K, a, b));
  };
  const q4Exact = (y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xs: number) =>
    split(Q4_ROWS, [y, x, w, scale, T, N, K, xs], N, 4, (T * N * K) / SPEED.dense, (a, b) => raw.matmul_q4_rows(y, x, w, scale, T, N, K, xs, a, b));
  const q4Fast = (y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xs: number) => {
    checkSize(T, K, '4-bit projection');
    raw.i8_fast_prepare(i8Quantized, x, T, K, xs); // the same 16-bit activations as the int8 head
    split(Q4_FAST_ROWS, [y, i8Quantized, w, scale, T, N, K], N, 4, (T * N * K) / SPEED.q4Fast, (a, b) => raw.q4_fast_rows(y, i8Quantized, w, scale, T, N, K, a, b));
  };
  const onebitExact = (y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, xs: number) => {
    checkSize(1, K, '1-bit projection');
    raw.onebit_gemm(y, x, bits, alpha, beta, T, N, K, xs, signTables);
  };
  /** The rows a fast 1-bit projection computes for T tokens: T, or T padded to whole batches where that is cheaper and fits. */
  const onebitFastRows = (T: number) => {
    const padded = Math.ceil(T / ONEBIT_BATCH) * ONEBIT_BATCH;
    return T % ONEBIT_BATCH >= ONEBIT_PAD_FROM && padded <= maxT ? padded : T;
  };
  const onebitFast = (y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, xs: number) => {
    checkSize(T, K, '1-bit projection');
    const rows = onebitFastRows(T); // a token gets the same bits alone or in a batch, padded or not
    raw.onebit_fast_prepare(onebitTables, x, alpha, beta, rows, K, xs);
    split(ONEBIT_FAST_ROWS, [y, onebitTables, bits, rows, N, K], N, 16, (rows * N * K) / SPEED.onebit, (a, b) => raw.onebit_fast_rows(y, onebitTables, bits, rows, N, K, a, b));
  };
  const i8 = options.exact ? i8Exact : i8Fast;
  const q4 = options.exact ? q4Exact : q4Fast;
  const onebit = options.exact ? onebitExact : onebitFast;
  // scans: heads (channels) split, exact either way; a bf16 state (stateType) widened into f32 scratch for prefill
  const bf16 = options.stateType === 'bf16';
  return {
    linear(p, y, x, T, xStride = p.K) {
      switch (p.kind) {
        case 'f32': f32(y, x, p.w, T, p.N, p.K, xStride); break;
        case 'f16': f16(y, x, p.w, T, p.N, p.K, xStride); break;
        case 'i8': i8(y, x, p.w, p.scale, T, p.N, p.K, xStride); break;
        case 'q4': q4(y, x, p.w, p.scale, T, p.N, p.K, xStride); break;
        case 'onebit': onebit(y, x, p.bits, p.alpha, p.beta, T, p.N, p.K, xStride); break;
      }
      if (p.bias) raw.add_bias(y, p.bias, T, p.N);
    },
    scan2: (y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride) => {
      const micros = (T * H * P * S) / SPEED.scan;
      if (bf16) {
        split(SCAN2_HEADS_BF16, [y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, wideState], H, 1, micros,
          (a, b) => raw.scan2_heads_bf16(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, wideState, a, b));
      } else {
        split(SCAN2_HEADS, [y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride], H, 1, micros,
          (a, b) => raw.scan2_heads(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, a, b));
      }
    },
    scan1: (y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride) => {
      const micros = (T * channels * S) / SPEED.scan;
      if (bf16) {
        split(SCAN1_CHANNELS_BF16, [y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, wideState], channels, 4, micros,
          (a, b) => raw.scan1_channels_bf16(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, wideState, a, b));
      } else {
        split(SCAN1_CHANNELS, [y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride], channels, 4, micros,
          (a, b) => raw.scan1_channels(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, a, b));
      }
    },
    // the conv (silu fused, as causal_conv1d's activation): channels split; the gated norm: tokens split
    conv1dSilu: (y, x, state, w, b, T, channels, W, xStride) =>
      split(CONV1D_CHANNELS, [y, x, state, w, b, T, channels, W, xStride, 1], channels, 4, (T * channels) / SPEED.elementwise,
        (c0, c1) => raw.conv1d_channels(y, x, state, w, b, T, channels, W, xStride, 1, c0, c1)),
    gatedRmsnorm: (y, x, z, w, T, width, groupSize, eps, zStride) =>
      split(GATED_RMSNORM_ROWS, [y, x, z, w, T, width, groupSize, eps, zStride], T, 1, (T * width) / SPEED.elementwise,
        (t0, t1) => raw.gated_rmsnorm_rows(y, x, z, w, T, width, groupSize, eps, zStride, t0, t1)),
    // the rest runs as exported, on the calling thread
    dtSoftplus: raw.dt_softplus,
    softplus: raw.softplus,
    mulSilu: raw.mul_silu,
    rmsnorm: raw.rmsnorm,
    add: raw.add,
    rowF16ToF32: raw.row_f16_to_f32,
    rowI8ToF32: raw.row_i8_to_f32,
    rowQ4ToF32: raw.row_q4_to_f32,
    argmax: raw.argmax,
  };
}

/**
 * `ops` with every call timed into `totals` (milliseconds by operation; a projection by its storage and
 * shape, e.g. `linear onebit 6448x1536`), for the bench's per-kernel breakdown (LoadOptions.opTimes).
 */
export function timedOps(ops: Ops, totals: Map<string, number>): Ops {
  const timed = {} as Record<keyof Ops, (...args: never[]) => void>;
  for (const name of Object.keys(ops) as (keyof Ops)[]) {
    const op = ops[name] as (...args: unknown[]) => void;
    timed[name] = (...args: unknown[]) => {
      const p = args[0] as Projection;
      const key = name === 'linear' ? `linear ${p.kind} ${p.N}x${p.K}` : name;
      const t0 = performance.now();
      op(...args);
      totals.set(key, (totals.get(key) ?? 0) + performance.now() - t0);
    };
  }
  return timed as unknown as Ops;
}
