// Kernel benchmark at the real Bi-Mamba-780M layer shapes, single thread:
// 1-bit GEMV versus f32 GEMV of the same shape, and the 1-bit GEMM per token at T=64.
// Run with `npm run bench:kernels` (builds the WASM first).
//
// Each figure is the median of many timed calls after a warm-up (the engine has tiered up).
// Two cache regimes: "hot" calls the kernel on the same weights every time, so weights that fit in
// the CPU caches stay there; "streamed" rotates over copies of the weights totalling STREAM_BYTES,
// more than any last-level cache, as a model whose layers follow one another does.
import { packSigns } from '../src/format/onebit.js';
import { createCore } from '../src/wasm/core.js';

const WASM = new URL('../dist/bimamba.wasm', import.meta.url);
const SHAPES = [
  { name: 'in_proj', K: 1536, N: 6448 },
  { name: 'out_proj', K: 3072, N: 1536 },
];
const T = 64; // prefill chunk for the GEMM figure
const STREAM_BYTES = 160 * 2 ** 20;

/** Median wall time in ms of fn(), after `warmup` untimed calls; runs until `minMs` of timing or `maxRuns`. */
function median(fn: () => void, warmup = 10, minMs = 1000, maxRuns = 300): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < 15 || performance.now() - start < minMs)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** Deterministic filler in [-1, 1). */
function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

const core = await createCore({ wasm: WASM });
const k = core.kernels, heap = core.heap;

/** `count` copies of `bytes` in WASM memory. */
function copies(bytes: Uint8Array, count: number): number[] {
  return Array.from({ length: count }, () => {
    const p = heap.alloc(bytes.length);
    heap.u8(p, bytes.length).set(bytes);
    return p;
  });
}
const asBytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const fmt = (ms: number) => `${ms.toFixed(3).padStart(7)} ms`;

console.log(`WASM kernels, one thread, Node ${process.version}. Median ms per call after warm-up.`);
console.log(`hot: same weights every call; streamed: rotating over ${STREAM_BYTES / 2 ** 20} MiB of weight copies.\n`);
for (const { name, K, N } of SHAPES) {
  const signs = fill(new Float32Array(N * K), 1);
  const packed = packSigns(N, K, (n, kk) => signs[n * K + kk] >= 0);
  const dense = asBytes(fill(new Float32Array(N * K), 4));
  const bitsCopies = copies(packed, Math.ceil(STREAM_BYTES / packed.length));
  const denseCopies = copies(dense, Math.ceil(STREAM_BYTES / dense.length));
  const [alpha] = copies(asBytes(fill(new Float32Array(K), 2).map((v) => 0.5 + Math.abs(v))), 1);
  const [beta] = copies(asBytes(fill(new Float32Array(K), 3).map((v) => 0.01 * v)), 1);
  const [x] = copies(asBytes(fill(new Float32Array(T * K), 5)), 1);
  const scratch = heap.alloc(k.onebit_scratch_bytes(K));
  const y = heap.alloc(4 * T * N);

  let i = 0;
  const onebit = (bits: number) => k.onebit_gemv(y, x, bits, alpha, beta, N, K, scratch);
  const f32 = (w: number) => k.matmul_f32(y, x, w, 1, N, K);
  const onebitHot = median(() => onebit(bitsCopies[0]));
  const onebitStreamed = median(() => onebit(bitsCopies[i++ % bitsCopies.length]));
  const f32Hot = median(() => f32(denseCopies[0]));
  const f32Streamed = median(() => f32(denseCopies[i++ % denseCopies.length]));
  const gemm = median(() => k.onebit_gemm(y, x, bitsCopies[i++ % bitsCopies.length], alpha, beta, T, N, K, scratch), 3, 2000, 100);

  const gmacs = (ms: number) => `${((N * K) / (ms * 1e6)).toFixed(1).padStart(5)} GMAC/s`;
  console.log(`${name} ${K} -> ${N} (1-bit weights ${(packed.length / 2 ** 20).toFixed(2)} MiB, f32 ${(dense.length / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  1-bit GEMV     hot ${fmt(onebitHot)} (${gmacs(onebitHot)})   streamed ${fmt(onebitStreamed)} (${gmacs(onebitStreamed)})`);
  console.log(`  f32 GEMV       hot ${fmt(f32Hot)} (${gmacs(f32Hot)})   streamed ${fmt(f32Streamed)} (${gmacs(f32Streamed)})`);
  console.log(`  f32 / 1-bit    hot ${(f32Hot / onebitHot).toFixed(1).padStart(7)}x                    streamed ${(f32Streamed / onebitStreamed).toFixed(1).padStart(7)}x`);
  console.log(`  1-bit GEMM T=${T}, streamed: ${fmt(gemm / T)} per token\n`);
  for (const p of [...bitsCopies, ...denseCopies, alpha, beta, x, scratch, y]) heap.release(p);
}
