// The kernels that threads split, as data (as ggml's type_traits_cpu describes each type once): for each,
// its range form (the kernel called with a piece [start, end) as its last two arguments), what that range
// counts (its split axis), where pieces may start, and how fast one thread runs it (to decide whether a
// call is worth splitting). The kernel set (kernel-set.ts) calls them through this table only, with one
// argument list for the calling thread and the workers alike; the pool's workers look them up by their
// index in SPLIT_KERNELS.
import type { Kernels } from './kernels.js';

/** What a range form's [start, end) counts. */
export type SplitAxis = 'rows' | 'heads' | 'channels' | 'tokens';

export interface SplitKernel {
  /** The range form (its last two arguments are the piece). */
  readonly kernel: keyof Kernels;
  readonly axis: SplitAxis;
  /** Pieces start at multiples of this (the kernel's blocking: 16 rows of the 1-bit tiles, 4 lanes). */
  readonly align: number;
  /** Work per µs on one thread: multiply-adds for projections, state values for scans, values for the rest. */
  readonly speed: number;
}

const split = (kernel: keyof Kernels, axis: SplitAxis, align: number, speed: number): SplitKernel => ({ kernel, axis, align, speed });

/** Every kernel the kernel set splits. */
export const SPLIT = {
  // projections: rows of W (an output each)
  onebit: split('onebit_rows', 'rows', 16, 15_000), // exact 1-bit: f32 sign tables (onebit_prepare)
  onebitFast: split('onebit_fast_rows', 'rows', 16, 60_000), // 12-bit lookup tables (onebit_fast_prepare)
  onebitFast8: split('onebit_fast8_rows', 'rows', 16, 75_000), // 8-bit lookup tables (onebit_fast8_prepare): 1.2-1.5x the GEMVs' speed (docs/speed.md)
  f32: split('f32_rows', 'rows', 4, 4_000),
  f16: split('f16_rows', 'rows', 4, 4_000),
  i8: split('i8_rows', 'rows', 4, 4_000),
  i8Fast: split('i8_fast_rows', 'rows', 4, 15_000), // 16-bit activations (i8_fast_prepare)
  q4: split('q4_rows', 'rows', 4, 4_000),
  q4Fast: split('q4_fast_rows', 'rows', 4, 20_000), // the same 16-bit activations
  // the mixer
  scan1: split('scan1_channels', 'channels', 4, 3_000),
  scan1Bf16: split('scan1_channels_bf16', 'channels', 4, 3_000),
  conv1d: split('conv1d_channels', 'channels', 4, 400),
  // Mamba-2's conv of the x channels, time step and scan, a head at a time (ssd2.ts): speed as the scan's
  ssd2: split('ssd2_heads', 'heads', 1, 3_000),
  ssd2Bf16: split('ssd2_heads_bf16', 'heads', 1, 3_000),
  gatedRmsnorm: split('gated_rmsnorm_tokens', 'tokens', 1, 400),
} as const satisfies Record<string, SplitKernel>;

/** The split kernels' names, by index: ThreadPool.run() takes the index, the workers look the name up. */
export const SPLIT_KERNELS: readonly (keyof Kernels)[] = Object.values(SPLIT).map((s) => s.kernel);
