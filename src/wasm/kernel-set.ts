// The operations the model graph runs (src/model/forward.ts calls these names and nothing else), and
// the kernels behind each one:
//  - linear: a projection in its storage (f32, f16, int8 rows, 4-bit groups, 1-bit signs). On the fast
//    path (unless `exact`) 1-bit projections go through lookup tables of 12-bit activations, or with
//    `activationBits: 8` 8-bit ones (onebit_fast.ts), and int8 and 4-bit ones (the LM head) through
//    16-bit dot products (i8_fast.ts, q4_fast.ts); on the exact path through the f32 kernels
//    (onebit.ts, matmul.ts, q4.ts).
//  - scan1 and ssd2 (Mamba-2's conv, time step and scan of a head range, one call): the SSM state stored
//    as f32 or, with `stateType: 'bf16'`, as bfloat16 (state.ts).
//  - split between threads when the core has a worker pool: the rows of every projection (the exact
//    1-bit one too), Mamba-2's heads (ssd2), Mamba-1's scan channels, conv channels, gated-norm tokens, each through its entry in
//    split-kernels.ts, with one argument list for the calling thread and the workers. The small rest
//    (the block norms, activations, adds) runs as it is on the calling thread.
// What a projection runs in each storage and on each path is data (PROJECTIONS below: its rows kernel,
// what it prepares into which part of the scratch, its arguments), as ggml's type_traits_cpu.
// The kernel set owns the scratch its kernels need (the fast path's tables, the exact 1-bit tables),
// sized here for up to `maxT` tokens of up to `maxK` inputs.
//
// Splitting never changes results: each row (head) is computed by the same code whichever thread runs
// it. The fast path differs from the exact one by its stated bounds (assembly/README.md).
//
// Argument convention (as the kernels, assembly/README.md): output first, then inputs, then sizes, then
// row strides (in floats) of the inputs that may be views into a wider buffer.
import { BimambaError } from '../errors.js';
import type { Core, Kernels } from './core.js';
import { SPLIT, SPLIT_KERNELS, type SplitKernel } from './split-kernels.js';

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
  /**
   * Mamba-2's heads between the projections, one session (ssd2.ts): conv [T, conv_dim] = silu(conv1d(xBC)),
   * dt [T, H] = clamp(softplus(dtIn + dtBias), lo, hi), then scan2 (y [T, H*P], h updated); xBC and dtIn
   * rows `inStride` apart; convState [conv_dim, W-1] updated. The B and C channels' conv runs first on the
   * calling thread, then the heads as one job.
   */
  ssd2(y: Ptr, conv: Ptr, xBC: Ptr, convState: Ptr, convW: Ptr, convB: Ptr, dt: Ptr, dtIn: Ptr, dtBias: Ptr, A: Ptr, Dskip: Ptr, h: Ptr,
    T: number, H: number, P: number, S: number, G: number, W: number, inStride: number, lo: number, hi: number): void;
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
  /** The fast 1-bit path's activations: 12-bit (default) or 8-bit lookup tables (onebit_fast.ts, onebit_fast8_*). */
  activationBits?: 8 | 12;
  /** Most tokens one call handles (the prefill chunk). */
  maxT: number;
  /** Largest input size of a 1-bit or int8 projection. */
  maxK: number;
  /** How the SSM state is stored: the scans read and write it as f32 or as bf16 (default f32). */
  stateType?: 'f32' | 'bf16';
  /** Values of one layer's SSM state: a bf16 state is widened into f32 scratch of this size for prefill. */
  stateValues: number;
}

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

type Storage = Projection['kind'];
type ProjectionOf<S extends Storage> = Projection & { kind: S };

/** The parts of the kernel set's scratch: activations prepared for a projection's rows kernel. */
type ScratchPart = 'onebitTables' | 'onebitFastTables' | 'onebitFast8Tables' | 'activations16';
const SCRATCH_BYTES: Record<ScratchPart, (k: Kernels, K: number, T: number) => number> = {
  onebitTables: (k, K, T) => k.onebit_scratch_bytes(K, T),
  onebitFastTables: (k, K, T) => k.onebit_fast_scratch_bytes(K, T),
  onebitFast8Tables: (k, K, T) => k.onebit_fast8_scratch_bytes(K, T),
  activations16: (k, K, T) => k.i8_fast_scratch_bytes(K, T),
};

/**
 * How a projection in one storage runs (the data of ggml's type_traits_cpu, for one path): the range
 * form over rows of W, what is written into scratch first (that scratch then takes x's place), and the
 * range form's arguments before the piece, written once for the calling thread and the workers.
 */
interface ProjectionKernel<S extends Storage> {
  rows: SplitKernel;
  prepare: null | {
    part: ScratchPart;
    write(k: Kernels, scratch: Ptr, p: ProjectionOf<S>, x: Ptr, T: number, xStride: number): void;
    /** Tokens are computed in whole batches of this many where that is cheaper (onebitFastRows). */
    batch?: number;
  };
  /** `x`: the input, or the prepared scratch; T the tokens computed. */
  args(p: ProjectionOf<S>, y: Ptr, x: Ptr, T: number, xStride: number): number[];
}
type ProjectionKernels = { [S in Storage]: ProjectionKernel<S> };

const dense = <S extends 'f32' | 'f16'>(rows: SplitKernel): ProjectionKernel<S> =>
  ({ rows, prepare: null, args: (p, y, x, T, xs) => [y, x, p.w, T, p.N, p.K, xs] });
const scaledRows = <S extends 'i8' | 'q4'>(rows: SplitKernel): ProjectionKernel<S> =>
  ({ rows, prepare: null, args: (p, y, x, T, xs) => [y, x, p.w, p.scale, T, p.N, p.K, xs] });
/** int8 and 4-bit rows over 16-bit activations (the LM head's fast path; q4 reads the int8 head's). */
const rows16 = <S extends 'i8' | 'q4'>(rows: SplitKernel): ProjectionKernel<S> => ({
  rows,
  prepare: { part: 'activations16', write: (k, scratch, p, x, T, xs) => k.i8_fast_prepare(scratch, x, T, p.K, xs) },
  args: (p, y, q, T) => [y, q, p.w, p.scale, T, p.N, p.K],
});

/**
 * The fast 1-bit kernels of each activation width: one kernel family (assembly/onebit_fast.ts, the table
 * entry type its only difference), exported once per width.
 */
const ONEBIT_FAST = {
  12: { rows: SPLIT.onebitFast, part: 'onebitFastTables', prepare: 'onebit_fast_prepare' },
  8: { rows: SPLIT.onebitFast8, part: 'onebitFast8Tables', prepare: 'onebit_fast8_prepare' },
} as const satisfies Record<8 | 12, { rows: SplitKernel; part: ScratchPart; prepare: keyof Kernels }>;

/** The fast path with the 1-bit layers' activations at `bits`. */
function fastPath(bits: 8 | 12): ProjectionKernels {
  const onebit = ONEBIT_FAST[bits];
  return {
    f32: dense(SPLIT.f32),
    f16: dense(SPLIT.f16),
    i8: rows16(SPLIT.i8Fast),
    q4: rows16(SPLIT.q4Fast),
    onebit: {
      rows: onebit.rows,
      prepare: { part: onebit.part, write: (k, scratch, p, x, T, xs) => k[onebit.prepare](scratch, x, p.alpha, p.beta, T, p.K, xs), batch: ONEBIT_BATCH },
      args: (p, y, tables, T) => [y, tables, p.bits, T, p.N, p.K],
    },
  };
}

/**
 * Every storage on each path: `exact` the f32 kernels, `fast` the quantized activations (assembly/README.md),
 * `fast8` the same with the 1-bit layers' 8-bit tables (`activationBits: 8`).
 */
type Path = 'exact' | 'fast' | 'fast8';
const PROJECTIONS: Record<Path, ProjectionKernels> = {
  exact: {
    f32: dense(SPLIT.f32),
    f16: dense(SPLIT.f16),
    i8: scaledRows(SPLIT.i8),
    q4: scaledRows(SPLIT.q4),
    onebit: {
      rows: SPLIT.onebit,
      prepare: { part: 'onebitTables', write: (k, scratch, p, x, T, xs) => k.onebit_prepare(scratch, x, p.alpha, p.beta, T, p.K, xs) },
      args: (p, y, tables, T) => [y, tables, p.bits, T, p.N, p.K],
    },
  },
  fast: fastPath(12),
  fast8: fastPath(8),
};

/** The path these options run. */
const pathOf = (options: KernelSetOptions): Path => (options.exact ? 'exact' : options.activationBits === 8 ? 'fast8' : 'fast');

/** The scratch parts of a path, in their order in the scratch block. */
function scratchParts(path: Path): ScratchPart[] {
  const parts = Object.values(PROJECTIONS[path]).map((k: ProjectionKernel<Storage>) => k.prepare?.part);
  return [...new Set(parts.filter((p): p is ScratchPart => p !== undefined))];
}

/** Bytes of the kernel set's scratch block for these options: the path's prepared activations, then a widened bf16 state. */
export function kernelSetScratchBytes(k: Kernels, options: KernelSetOptions): number {
  const scan = options.stateType === 'bf16' ? 4 * options.stateValues : 0;
  return scratchParts(pathOf(options)).reduce((sum, part) => sum + SCRATCH_BYTES[part](k, options.maxK, options.maxT), 0) + scan;
}

const SPLIT_ID = new Map(SPLIT_KERNELS.map((name, i) => [name, i]));

type RangeKernel = (...args: number[]) => void;
/**
 * `kernel(...a, start, end)`, as a direct call for the argument counts of the split kernels: a spread
 * call costs about 0.2 µs more, and a decoding step makes a few hundred of them.
 */
function callRange(kernel: RangeKernel, a: number[], start: number, end: number): void {
  switch (a.length) {
    case 6: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], start, end);
    case 7: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], start, end);
    case 8: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], start, end);
    case 9: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], start, end);
    case 10: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], start, end);
    case 12: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], start, end);
    case 13: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], start, end);
    case 15: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], start, end);
    case 16: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], start, end);
    case 21: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], start, end);
    case 22: return kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], start, end);
    default: return kernel(...a, start, end);
  }
}

/** The graph's operations over `core`, with their scratch allocated from its heap. */
export function createOps(core: Core, options: KernelSetOptions): Ops {
  const raw = core.kernels;
  const pool = core.pool;
  const { maxT, maxK } = options;

  /**
   * Run split kernel `s` over [0, count) with `args` (its arguments before the piece): on the pool, or
   * inline when single-threaded or too small (`work` in the table's units: its time alone is work / speed).
   */
  const run = (s: SplitKernel, args: number[], count: number, work: number) => {
    const kernel = raw[s.kernel] as RangeKernel;
    if (!pool || work / s.speed < MIN_SPLIT_MICROSECONDS) callRange(kernel, args, 0, count);
    else pool.run(SPLIT_ID.get(s.kernel)!, args, count, s.align, (a, b) => callRange(kernel, args, a, b));
  };

  const scratch = core.heap.alloc(kernelSetScratchBytes(raw, options), 'kernel scratch');
  const partAt = {} as Record<ScratchPart, Ptr>;
  let at = scratch;
  for (const part of scratchParts(pathOf(options))) {
    partAt[part] = at;
    at += SCRATCH_BYTES[part](raw, maxK, maxT);
  }
  const wideState = at; // a bf16 state widened, at the end

  const projections = PROJECTIONS[pathOf(options)];
  /** The tokens a projection computes for T: T, or T padded to whole batches where that is cheaper and fits. */
  const paddedTokens = (T: number, batch: number) => {
    const padded = Math.ceil(T / batch) * batch;
    return T % batch >= ONEBIT_PAD_FROM && padded <= maxT ? padded : T;
  };
  // scans: heads (channels) split, exact either way; a bf16 state (stateType) widened into f32 scratch for prefill
  const bf16 = options.stateType === 'bf16';
  return {
    linear(p, y, x, T, xStride = p.K) {
      const kernel = projections[p.kind] as ProjectionKernel<Storage>;
      let input = x;
      let tokens = T;
      if (kernel.prepare) {
        if (T > maxT || p.K > maxK) {
          throw new BimambaError('BAD_ARGUMENT', `${p.kind} projection: ${T} tokens of ${p.K} inputs in one call; the kernel scratch holds ${maxT} of ${maxK}`);
        }
        // a token gets the same bits alone or in a batch, padded or not
        if (kernel.prepare.batch) tokens = paddedTokens(T, kernel.prepare.batch);
        input = partAt[kernel.prepare.part];
        kernel.prepare.write(raw, input, p, x, tokens, xStride);
      }
      run(kernel.rows, kernel.args(p, y, input, tokens, xStride), p.N, tokens * p.N * p.K);
      if (p.bias) raw.add_bias(y, p.bias, T, p.N);
    },
    scan1: (y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride) => {
      const args = [y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride];
      if (bf16) run(SPLIT.scan1Bf16, [...args, wideState], channels, T * channels * S);
      else run(SPLIT.scan1, args, channels, T * channels * S);
    },
    ssd2: (y, conv, xBC, convState, convW, convB, dt, dtIn, dtBias, A, Dskip, h, T, H, P, S, G, W, inStride, lo, hi) => {
      const convDim = H * P + 2 * G * S;
      raw.conv1d_channels(conv, xBC, convState, convW, convB, T, convDim, W, inStride, 1, H * P, convDim); // B and C, shared by the heads
      const args = [y, conv, xBC, convState, convW, convB, dt, dtIn, dtBias, A, Dskip, h, T, H, P, S, G, W, inStride, lo, hi];
      if (bf16) run(SPLIT.ssd2Bf16, [...args, wideState], H, T * H * P * S);
      else run(SPLIT.ssd2, args, H, T * H * P * S);
    },
    // the conv (silu fused, as causal_conv1d's activation): channels split; the gated norm: tokens split
    conv1dSilu: (y, x, state, w, b, T, channels, W, xStride) =>
      run(SPLIT.conv1d, [y, x, state, w, b, T, channels, W, xStride, 1], channels, T * channels),
    gatedRmsnorm: (y, x, z, w, T, width, groupSize, eps, zStride) =>
      run(SPLIT.gatedRmsnorm, [y, x, z, w, T, width, groupSize, eps, zStride], T, T * width),
    // the rest runs as exported, on the calling thread
    softplus: raw.softplus,
    mulSilu: raw.mul_silu,
    rmsnorm: raw.rmsnorm,
    add: raw.add,
    rowF16ToF32: raw.f16_row_to_f32,
    rowI8ToF32: raw.i8_row_to_f32,
    rowQ4ToF32: raw.q4_row_to_f32,
    argmax: raw.argmax,
  };
}

/**
 * `ops` with every call timed into `totals` (milliseconds by operation; a projection by its storage and
 * shape, e.g. `linear onebit 6448x1536`), for the bench's per-kernel breakdown (LoadOptions.opTimes).
 */
export function timedOps(ops: Ops, totals: Map<string, number>): Ops {
  const timed = {} as Record<keyof Ops, (...args: never[]) => unknown>;
  for (const name of Object.keys(ops) as (keyof Ops)[]) {
    const op = ops[name] as (...args: unknown[]) => unknown;
    timed[name] = (...args: unknown[]) => {
      const p = args[0] as Projection;
      const key = name === 'linear' ? `linear ${p.kind} ${p.N}x${p.K}` : name;
      const t0 = performance.now();
      const result = op(...args); // what the operation returns (argmax's index) passes through
      totals.set(key, (totals.get(key) ?? 0) + performance.now() - t0);
      return result;
    };
  }
  return timed as unknown as Ops;
}
