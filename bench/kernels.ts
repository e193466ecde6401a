// Kernel benchmark at the real Bi-Mamba layer shapes, one thread: the fast 1-bit GEMV / GEMM (12-bit
// activations, and the 8-bit tables of `activationBits: 8`) against the exact 1-bit kernel and against f32
// weights of the same shape; the fast int8 and 4-bit LM heads against f32.
//
//   tsx bench/kernels.ts [--json] [--quick] [--wasm FILE]
//
// Weights are "streamed": each call uses the next of several copies that together exceed the CPU's
// last-level cache, as in a model whose layers follow one another, so memory bandwidth counts. Figures
// are medians of many calls after a warm-up. GOPS counts a multiply-add as 2 operations.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packSigns } from '../src/format/onebit.js';
import { createCore, type Core } from '../src/wasm/core.js';
import { BUILDS, timeMs, type KernelResult } from './common.js';

interface Shape { name: string; kind: 'gemv' | 'gemm' | 'head' | 'head-q4'; N: number; K: number; T: number }

/** in_proj and out_proj of each model size, the 780M LM head (int8 and 4-bit), and the 780M projections at T = 64. */
export function kernelShapes(quick: boolean): Shape[] {
  const sizes: [string, number][] = quick ? [['780m', 1536]] : [['780m', 1536], ['1.3b', 2048], ['2.7b', 2560]];
  const shapes: Shape[] = [];
  for (const [name, d] of sizes) {
    const inner = 2 * d, inRows = 2 * inner + 2 * 128 + inner / 64;
    shapes.push({ name: `${name} in_proj`, kind: 'gemv', N: inRows, K: d, T: 1 });
    shapes.push({ name: `${name} out_proj`, kind: 'gemv', N: d, K: inner, T: 1 });
  }
  shapes.push({ name: '780m in_proj', kind: 'gemm', N: 6448, K: 1536, T: 64 });
  shapes.push({ name: '780m out_proj', kind: 'gemm', N: 1536, K: 3072, T: 64 });
  shapes.push({ name: '780m lm_head', kind: 'head', N: 32000, K: 1536, T: 1 });
  shapes.push({ name: '780m lm_head', kind: 'head-q4', N: 32000, K: 1536, T: 1 });
  return shapes;
}

const STREAM_BYTES = 96 * 2 ** 20; // three times the 32 MiB L3 here

/** Seeded filler in [-1, 1). */
function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Copies of `bytes` in WASM memory, enough to pass STREAM_BYTES (at least 2). */
function copies(core: Core, bytes: Uint8Array): number[] {
  const count = Math.max(2, Math.ceil(STREAM_BYTES / bytes.length));
  return Array.from({ length: count }, () => {
    const p = core.heap.alloc(bytes.length);
    core.heap.u8(p, bytes.length).set(bytes);
    return p;
  });
}

const asBytes = (a: Float32Array | Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Median µs per token of the fast, exact and f32 kernels at one shape (1-bit: also the 8-bit tables), with the build at `wasm`. */
function measure(core: Core, s: Shape): { fast: number; fast8?: number; exact: number; f32: number } {
  const k = core.kernels, heap = core.heap;
  const { N, K, T } = s;
  const blocks: number[] = [];
  const put = (a: Float32Array) => {
    const p = heap.alloc(a.byteLength);
    heap.f32(p, a.length).set(a);
    blocks.push(p);
    return p;
  };
  const x = heap.alloc(4 * T * K);
  heap.f32(x, T * K).set(fill(new Float32Array(T * K), 5));
  const y = heap.alloc(4 * T * N);
  blocks.push(x, y);
  let fast: number, exact: number;
  let fast8: number | undefined;
  let i = 0;
  if (s.kind === 'head') {
    const q = new Int8Array(N * K).map((_, j) => ((j * 2654435761) >>> 24) - 128);
    const w = copies(core, asBytes(q));
    const scale = heap.alloc(4 * N);
    heap.f32(scale, N).fill(0.01);
    const scratch = heap.alloc(k.i8_fast_scratch_bytes(K, T));
    fast = timeMs(() => { k.i8_fast_prepare(scratch, x, T, K, K); k.i8_fast_rows(y, scratch, w[i++ % w.length], scale, T, N, K, 0, N); });
    exact = timeMs(() => k.i8_rows(y, x, w[i++ % w.length], scale, T, N, K, K, 0, N));
    blocks.push(...w, scale, scratch);
  } else if (s.kind === 'head-q4') {
    const groups = Math.ceil(K / 32);
    const packed = new Uint8Array(N * groups * 16).map((_, j) => (j * 2654435761) >>> 24);
    const w = copies(core, packed);
    const scale = heap.alloc(2 * N * groups);
    new Uint16Array(heap.u8(scale, 2 * N * groups).buffer, scale, N * groups).fill(0x3c24); // bf16 0.01
    const scratch = heap.alloc(k.i8_fast_scratch_bytes(K, T));
    fast = timeMs(() => { k.i8_fast_prepare(scratch, x, T, K, K); k.q4_fast_rows(y, scratch, w[i++ % w.length], scale, T, N, K, 0, N); });
    exact = timeMs(() => k.q4_rows(y, x, w[i++ % w.length], scale, T, N, K, K, 0, N));
    blocks.push(...w, scale, scratch);
  } else {
    const signs = fill(new Float32Array(N * K), 1);
    const bits = copies(core, packSigns(N, K, (n, kk) => signs[n * K + kk] >= 0));
    const alpha = put(fill(new Float32Array(K), 2).map((v) => 0.01 + 0.04 * Math.abs(v)));
    const beta = put(fill(new Float32Array(K), 3).map((v) => 0.002 * v));
    const fastTables = heap.alloc(k.onebit_fast_scratch_bytes(K, T));
    const tables = heap.alloc(k.onebit_scratch_bytes(K, T));
    const fast8Tables = heap.alloc(k.onebit_fast8_scratch_bytes(K, T));
    fast = timeMs(() => { k.onebit_fast_prepare(fastTables, x, alpha, beta, T, K, K); k.onebit_fast_rows(y, fastTables, bits[i++ % bits.length], T, N, K, 0, N); });
    fast8 = timeMs(() => { k.onebit_fast8_prepare(fast8Tables, x, alpha, beta, T, K, K); k.onebit_fast8_rows(y, fast8Tables, bits[i++ % bits.length], T, N, K, 0, N); });
    exact = timeMs(() => { k.onebit_prepare(tables, x, alpha, beta, T, K, K); k.onebit_rows(y, tables, bits[i++ % bits.length], T, N, K, 0, N); });
    blocks.push(...bits, fastTables, fast8Tables, tables);
  }
  const dense = copies(core, asBytes(fill(new Float32Array(N * K), 4)));
  const f32 = timeMs(() => k.f32_rows(y, x, dense[i++ % dense.length], T, N, K, K, 0, N), 2, 400, 5);
  blocks.push(...dense);
  for (const b of blocks) heap.release(b);
  const us = (ms: number) => (1000 * ms) / T;
  return { fast: us(fast), fast8: fast8 === undefined ? undefined : us(fast8), exact: us(exact), f32: us(f32) };
}

/** Every shape with the build at `wasm` (the default: what this Node runs best). */
export async function benchKernels(quick: boolean, wasm: URL = BUILDS.single): Promise<{ shape: Shape; fast: number; fast8?: number; exact: number; f32: number }[]> {
  const core = await createCore({ wasm, threads: 1 });
  return kernelShapes(quick).map((shape) => ({ shape, ...measure(core, shape) }));
}

/** Combine a run of the best build with one of plain SIMD128 into results. */
export function kernelResults(best: Awaited<ReturnType<typeof benchKernels>>, simd128: Awaited<ReturnType<typeof benchKernels>>): KernelResult[] {
  return best.map((b, i) => {
    const { name, kind, N, K, T } = b.shape;
    const gops = (us: number) => (2 * N * K) / (us * 1e3);
    return {
      name, kind, N, K, T,
      onebit_us: b.fast, onebit_simd128_us: simd128[i].fast, ...(b.fast8 === undefined ? {} : { onebit8_us: b.fast8 }), exact_us: b.exact, f32_us: b.f32,
      onebit_gops: gops(b.fast), f32_gops: gops(b.f32), speedup: b.f32 / b.fast,
    };
  });
}

export function printKernels(results: KernelResult[], relaxed: boolean): void {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(`kernel (1 thread, weights streamed)     fast µs${relaxed ? ' (relaxed / simd128)' : ''}  8-bit µs  12/8-bit   exact µs     f32 µs   fast GOPS  f32 GOPS  f32/fast`);
  for (const r of results) {
    const label = `${r.name} ${r.kind === 'gemm' ? `GEMM T=${r.T}, per token` : r.kind === 'head' ? 'int8 head' : r.kind === 'head-q4' ? 'q4 head' : 'GEMV'} ${r.K}->${r.N}`;
    const fast = relaxed ? `${r.onebit_us.toFixed(0)} / ${r.onebit_simd128_us.toFixed(0)}` : r.onebit_us.toFixed(0);
    const eight = r.onebit8_us === undefined ? ['-', '-'] : [r.onebit8_us.toFixed(0), `${(r.onebit_us / r.onebit8_us).toFixed(2)}x`];
    console.log(`${label.padEnd(40)}${pad(fast, relaxed ? 16 : 8)}${pad(eight[0], 10)}${pad(eight[1], 10)}${pad(r.exact_us.toFixed(0), 11)}${pad(r.f32_us.toFixed(0), 11)}${pad(r.onebit_gops.toFixed(0), 12)}${pad(r.f32_gops.toFixed(1), 10)}${pad(r.speedup.toFixed(1), 9)}x`);
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const at = process.argv.indexOf('--wasm');
  const wasm = at >= 0 ? pathToFileURL(process.argv[at + 1]) : BUILDS.single;
  const runs = await benchKernels(quick, wasm);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(runs)}\n`);
    return;
  }
  const simd128 = wasm.href === BUILDS.simd128.href ? runs : await benchKernels(quick, BUILDS.simd128);
  printKernels(kernelResults(runs, simd128), wasm.href !== BUILDS.simd128.href);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
