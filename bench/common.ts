// What the benchmark scripts share: the builds they run, the protocol constants, the result schema
// (documented in bench/README.md) and small helpers.
import { relaxedSimdSupported } from '../src/wasm/loader.js';

/** The protocol: a 512-token prompt, then 128 tokens decoded one at a time, per run. */
export const PREFILL_TOKENS = 512;
export const DECODE_TOKENS = 128;
/** The f32 comparison model is ~10x slower per token: its runs are shorter (per-token cost does not depend on length). */
export const F32_PREFILL_TOKENS = 64;
export const F32_DECODE_TOKENS = 16;

const dist = (file: string) => new URL(`../dist/${file}`, import.meta.url);

/** Sampling as users sample, for the generate() figures (bench/run-model.mjs has the same). */
export const SAMPLED = { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1 };

/** The builds a run uses: relaxed SIMD where this Node runs it (Node 22+, or 20 with a flag). */
export const RELAXED = relaxedSimdSupported();
export const BUILDS = {
  single: dist(RELAXED ? 'bimamba-relaxed.wasm' : 'bimamba.wasm'),
  threads: dist(RELAXED ? 'bimamba-threads-relaxed.wasm' : 'bimamba-threads.wasm'),
  simd128: dist('bimamba.wasm'),
  relaxed: dist('bimamba-relaxed.wasm'),
};

/** One model at one thread count: medians over the runs. */
export interface ModelRun {
  model: string;
  threads: number;
  exact: boolean;
  prompt_tokens: number;
  decode_tokens: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  prefill_runs: number[];
  decode_runs: number[];
  /** The same decode through model.generate(): greedy (temperature 0), and sampled (SAMPLED). */
  generate_greedy_tok_s: number;
  generate_sampled_tok_s: number;
  generate_greedy_runs: number[];
  generate_sampled_runs: number[];
  /** model.memory.blocks: WASM bytes by what the blocks hold. */
  memory_blocks?: Record<string, number>;
  load_s: number;
  peak_rss_mb: number;
  wasm_memory_mb: number;
  file_mb: number;
  /** µs per token by graph operation (`run-model.mjs --breakdown`, a process of its own): one prefill, and the decode after it. */
  prefill_breakdown_us?: Record<string, number>;
  decode_breakdown_us?: Record<string, number>;
  /** µs per token the calling thread fed alone, outside the worker pool's jobs (at one thread: all of it). */
  serial_us_per_token?: PhaseFigures;
  /** Jobs handed to the worker pool per token (0 at one thread). */
  pool_calls_per_token?: PhaseFigures;
}

/** A figure for prefill and for decode. */
export interface PhaseFigures {
  prefill: number;
  decode: number;
}

/** One kernel shape: median microseconds per call (per token for GEMM). */
export interface KernelResult {
  name: string;
  kind: 'gemv' | 'gemm' | 'head' | 'head-q4';
  N: number;
  K: number;
  T: number;
  /** The fast 1-bit kernel (heads: the fast int8 or 4-bit kernel) in the build this Node runs best. */
  onebit_us: number;
  /** The same with the plain SIMD128 build (equal to onebit_us when relaxed SIMD is off). */
  onebit_simd128_us: number;
  /** 1-bit shapes: the fast 1-bit kernel with 8-bit tables (`activationBits: 8`), in the same build as onebit_us. */
  onebit8_us?: number;
  /** The exact f32-table 1-bit kernel (heads: the exact int8 or 4-bit kernel). */
  exact_us: number;
  /** f32 weights of the same shape (weights streamed from memory, not cache-hot). */
  f32_us: number;
  onebit_gops: number;
  f32_gops: number;
  speedup: number;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gb: number;
  node: string;
  v8: string;
  os: string;
  relaxed_simd: boolean;
  /** Peak f32 SIMD throughput of one thread (f32x4 mul + add, registers only), GFLOP/s. */
  f32_peak_gflops: number;
  /** Streaming read bandwidth from memory (WASM v128 loads over 256 MiB), GB/s, 1 and 2 threads. */
  read_gb_s_1t: number;
  read_gb_s_2t: number;
}

export interface BenchResults {
  schema: 1;
  date: string;
  quick: boolean;
  machine: MachineInfo;
  kernels: KernelResult[];
  runs: ModelRun[];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median ms of fn() after `warmup` calls, timing until `minMs` have passed and at least `minRuns` calls. */
export function timeMs(fn: () => void, warmup = 5, minMs = 400, minRuns = 7): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The per-operation breakdown of `runs` (µs per token), one column per run and phase, operations by their share of the first column. */
export function printBreakdown(runs: ModelRun[]): void {
  const columns = runs.flatMap((r) => [
    { title: `${r.threads}t prefill`, data: r.prefill_breakdown_us ?? {} },
    { title: `${r.threads}t decode`, data: r.decode_breakdown_us ?? {} },
  ]);
  if (columns.length === 0) return;
  const ops = [...new Set(columns.flatMap((c) => Object.keys(c.data)))].sort((a, b) => (columns[0].data[b] ?? 0) - (columns[0].data[a] ?? 0));
  const total = (c: (typeof columns)[number]) => Object.values(c.data).reduce((a, b) => a + b, 0);
  console.log(`\n${runs[0].model}: µs per token by operation (one run with every operation timed)`);
  console.log(`${'operation'.padEnd(28)}${columns.map((c) => c.title.padStart(12)).join('')}`);
  for (const op of [...ops.filter((o) => o !== 'other'), 'other']) console.log(`${op.padEnd(28)}${columns.map((c) => String(c.data[op] ?? '-').padStart(12)).join('')}`);
  console.log(`${'total'.padEnd(28)}${columns.map((c) => String(total(c)).padStart(12)).join('')}`);
  // from the measured runs' process (no operation timed): what the calling thread ran alone, and the pool's jobs
  const phases = runs.flatMap((r) => [[r, 'prefill'], [r, 'decode']] as const);
  const figure = (f: PhaseFigures | undefined, phase: keyof PhaseFigures) => (f ? String(f[phase]) : '-').padStart(12);
  console.log(`${'serial (no worker runs)'.padEnd(28)}${phases.map(([r, p]) => figure(r.serial_us_per_token, p)).join('')}`);
  console.log(`${'pool jobs per token'.padEnd(28)}${phases.map(([r, p]) => figure(r.pool_calls_per_token, p)).join('')}`);
}
