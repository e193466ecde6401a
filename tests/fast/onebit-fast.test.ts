// The fast 1-bit kernels, both activation modes (assembly/onebit_fast.ts: 12-bit, onebit_fast_*; 8-bit
// tables, onebit_fast8_*, the same code over i8 entries), against two references built from the same
// signs, alpha, beta and x:
//  - the quantized reference: the same per-block quantization done here in TypeScript, then exact
//    integer sums in f64: the kernel must match it to f32 rounding;
//  - the exact f64 product: the kernel must stay within the stated bound, Σ_k step_b(k) / 2.
import { beforeAll, describe, expect, it } from 'vitest';
import { packSigns } from '../../src/format/onebit.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const BLOCK = 256;

/** One activation mode: its largest |q|, its bytes of table per column (a token), its kernels. */
interface Mode { bits: 8 | 12; levels: number; tableBytesPerColumn: number; prefix: 'onebit_fast' | 'onebit_fast8' }
const MODES: Mode[] = [
  { bits: 12, levels: 2047, tableBytesPerColumn: 8, prefix: 'onebit_fast' }, // 12-bit q, i16 entries in two byte planes
  { bits: 8, levels: 31, tableBytesPerColumn: 4, prefix: 'onebit_fast8' }, // i8 entries: four |q| <= 31 sum within a byte
];
const kernels = (mode: Mode) => ({
  scratchBytes: wasm.k[`${mode.prefix}_scratch_bytes`],
  prepare: wasm.k[`${mode.prefix}_prepare`],
  rows: wasm.k[`${mode.prefix}_rows`],
  gemm: wasm.k[`${mode.prefix}_gemm`],
});

interface Layer { N: number; K: number; signs: Int8Array; alpha: Float32Array; beta: Float32Array }

function randomLayer(rng: Rng, N: number, K: number): Layer {
  const signs = new Int8Array(N * K);
  for (let i = 0; i < N * K; i++) signs[i] = rng.next() < 0.5 ? -1 : 1;
  return { N, K, signs, alpha: rng.f32(K, () => rng.uniform(0.2, 1.5)), beta: rng.f32(K, () => 0.1 * rng.normal()) };
}

/** Round half to even, as f32x4.nearest. */
function nearest(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The kernel's quantization of one token, in the same f32 operations: q per column and step per block. */
function quantize(mode: Mode, layer: Layer, x: Float32Array): { q: Int32Array; step: Float64Array } {
  const { K, alpha } = layer;
  const xs = new Float32Array(K);
  for (let k = 0; k < K; k++) xs[k] = Math.fround(alpha[k] * x[k]);
  const blocks = Math.ceil(K / BLOCK);
  const q = new Int32Array(K), step = new Float64Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) amax = Math.max(amax, Math.abs(xs[k]));
    const tiny = amax < 2 ** -100;
    step[b] = tiny ? 0 : Math.fround(amax / mode.levels);
    const inv = tiny ? 0 : Math.fround(mode.levels / amax);
    for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) q[k] = nearest(Math.fround(xs[k] * inv));
  }
  return { q, step };
}

interface Reference { quantized: Float64Array; exact: Float64Array; bound: Float64Array; size: Float64Array }

/** Per output: the quantized reference, the exact product, the stated error bound, and the row's size. */
function reference(mode: Mode, layer: Layer, x: Float32Array, T: number): Reference {
  const { N, K, signs, alpha, beta } = layer;
  const out = { quantized: new Float64Array(T * N), exact: new Float64Array(T * N), bound: new Float64Array(T * N), size: new Float64Array(T * N) };
  for (let t = 0; t < T; t++) {
    const xt = x.subarray(t * K, (t + 1) * K);
    const { q, step } = quantize(mode, layer, xt);
    let c = 0, bound = 0;
    for (let k = 0; k < K; k++) { c += beta[k] * xt[k]; bound += step[Math.floor(k / BLOCK)] / 2; }
    for (let n = 0; n < N; n++) {
      let yq = c, ye = 0, sq = 0;
      const blockSums = new Float64Array(step.length);
      for (let k = 0; k < K; k++) {
        const s = signs[n * K + k];
        blockSums[Math.floor(k / BLOCK)] += s * q[k];
        const term = (alpha[k] * s + beta[k]) * xt[k];
        ye += term;
        sq += term * term;
      }
      for (let b = 0; b < step.length; b++) yq += step[b] * blockSums[b];
      const i = t * N + n;
      out.quantized[i] = yq;
      out.exact[i] = ye;
      out.bound[i] = bound;
      out.size[i] = Math.max(Math.abs(ye), Math.sqrt(sq));
    }
  }
  return out;
}

function upload(mode: Mode, layer: Layer, T: number) {
  const bits = packSigns(layer.N, layer.K, (n, k) => layer.signs[n * layer.K + k] > 0);
  return {
    bits: wasm.put(bits),
    alpha: wasm.put(layer.alpha),
    beta: wasm.put(layer.beta),
    scratch: wasm.alloc(kernels(mode).scratchBytes(layer.K, T)),
  };
}

/** Run the mode's gemm; returns the T*N outputs and checks the 16 guard values after them. */
function run(mode: Mode, layer: Layer, x: Float32Array, T: number): Float32Array {
  const buf = upload(mode, layer, T);
  const y = wasm.f32(T * layer.N + 16, 12345);
  kernels(mode).gemm(y, wasm.put(x), buf.bits, buf.alpha, buf.beta, T, layer.N, layer.K, layer.K, buf.scratch);
  const out = wasm.read(y, T * layer.N + 16);
  expect(Array.from(out.subarray(T * layer.N))).toEqual(new Array(16).fill(12345));
  return out.subarray(0, T * layer.N);
}

for (const mode of MODES) {
  describe(`${mode.prefix} scratch`, () => {
    it(`holds ${4 * mode.tableBytesPerColumn} bytes per group of 4 columns plus the block steps and c, per token, 64-byte aligned`, () => {
      for (const K of [1, 7, 8, 9, 255, 256, 257, 1536, 3072]) {
        const perToken = Math.ceil((mode.tableBytesPerColumn * (8 * Math.ceil(K / 8)) + 4 * (Math.ceil(K / 256) + 1)) / 64) * 64;
        expect(kernels(mode).scratchBytes(K, 1)).toBe(perToken);
        expect(kernels(mode).scratchBytes(K, 3)).toBe(3 * perToken);
      }
    });
  });

  describe(`${mode.prefix}_gemm (${mode.bits}-bit activation mode)`, () => {
    const Ks = [8, 13, 37, 100, 255, 256, 257, 700];
    const Ns = [1, 5, 16, 17, 33];
    for (const K of Ks) {
      for (const N of Ns) {
        it(`N=${N} K=${K}: equals the quantized reference to f32 rounding, and is within the stated bound of the exact product`, () => {
          const rng = new Rng(977 * K + N);
          const layer = randomLayer(rng, N, K);
          const x = rng.f32(K);
          const y = run(mode, layer, x, 1);
          const ref = reference(mode, layer, x, 1);
          for (let n = 0; n < N; n++) {
            expect(Math.abs(y[n] - ref.quantized[n])).toBeLessThanOrEqual(2e-6 * ref.size[n]);
            expect(Math.abs(y[n] - ref.exact[n])).toBeLessThanOrEqual(ref.bound[n] + 1e-5 * ref.size[n]);
          }
        });
      }
    }

    it('is typically far inside the bound (random signs): RMS error below a tenth of it at a real width', () => {
      const rng = new Rng(5);
      const layer = randomLayer(rng, 200, 1536);
      const x = rng.f32(1536);
      const y = run(mode, layer, x, 1);
      const ref = reference(mode, layer, x, 1);
      let sq = 0;
      for (let n = 0; n < 200; n++) sq += (y[n] - ref.exact[n]) ** 2;
      expect(Math.sqrt(sq / 200)).toBeLessThan(0.1 * ref.bound[0]);
      expect(Math.sqrt(sq / 200)).toBeGreaterThan(0); // it does quantize
    });

    it('keeps its per-block scales apart: a large block does not swamp a small one', () => {
      // block 0 of size 1000, block 1 of size 0.001: a single scale would quantize block 1 to zero
      const rng = new Rng(6);
      const layer = randomLayer(rng, 17, 512);
      layer.alpha.fill(1);
      layer.beta.fill(0);
      const x = rng.f32(512, () => rng.uniform(-1, 1));
      for (let k = 0; k < 256; k++) x[k] *= 1000;
      for (let k = 256; k < 512; k++) x[k] *= 0.001;
      const y = run(mode, layer, x, 1);
      const ref = reference(mode, layer, x, 1);
      for (let n = 0; n < 17; n++) expect(Math.abs(y[n] - ref.exact[n])).toBeLessThanOrEqual(ref.bound[n] + 1e-5 * ref.size[n]);
      expect(ref.bound[0]).toBeLessThan((256 * 1000 + 256 * 0.001) / (2 * mode.levels) + 1e-9);
    });

    for (const K of [8192, 8193, 12289]) {
      it(`cannot overflow: every sum at its largest (K=${K}, all x at the block maximum) comes out right`, () => {
        // q = ±levels everywhere and every sign agrees with x: every group sums to ±4 levels (12-bit: two tiles
        // to ±32752 in i16; 8-bit: a whole block to ±7936 in i16, each entry ±124 in an i8)
        const N = 19;
        const layer: Layer = { N, K, signs: new Int8Array(N * K), alpha: new Float32Array(K).fill(1), beta: new Float32Array(K) };
        const x = new Float32Array(K);
        for (let k = 0; k < K; k++) x[k] = k % 3 === 0 ? -2 : 2;
        for (let n = 0; n < N; n++) {
          for (let k = 0; k < K; k++) layer.signs[n * K + k] = (n % 2 === 0) === (x[k] > 0) ? 1 : -1;
        }
        const y = run(mode, layer, x, 1);
        // a wrapped i16 or i32 lane would be off by 65536 steps or more; f32 rounding is ~1e-7 relative
        for (let n = 0; n < N; n++) expect(Math.abs(y[n] - (n % 2 === 0 ? 2 * K : -2 * K))).toBeLessThanOrEqual(1e-5 * 2 * K);
        // and on the batch path: 16 copies of the token give its bits 16 times
        const batch = run(mode, layer, new Float32Array(16 * K).map((_, i) => x[i % K]), 16);
        for (let t = 0; t < 16; t++) expect(batch.subarray(t * N, (t + 1) * N)).toEqual(y);
      });
    }

    // T >= 16: whole batches of 16 tokens take the batch path (batchRow), the rest the token path;
    // K > 2048: rows are done in chunks of 2048 columns
    for (const [T, N, K] of [[2, 5, 13], [3, 17, 300], [7, 33, 100], [16, 21, 37], [17, 16, 513], [35, 40, 264], [17, 35, 2600], [1, 50, 4500]]) {
      it(`over T=${T} tokens gives the same bits as T single tokens, and as rows computed in pieces (N=${N} K=${K})`, () => {
        const rng = new Rng(T * 7919 + N * 31 + K);
        const layer = randomLayer(rng, N, K);
        const x = rng.f32(T * K);
        const all = run(mode, layer, x, T);
        const ref = reference(mode, layer, x, T);
        for (let i = 0; i < T * N; i++) expect(Math.abs(all[i] - ref.quantized[i])).toBeLessThanOrEqual(2e-6 * ref.size[i]);
        for (let t = 0; t < T; t++) expect(run(mode, layer, x.subarray(t * K, (t + 1) * K), 1)).toEqual(all.subarray(t * N, (t + 1) * N));

        // prepare once, then rows [0, 16) and [16, N) separately, as two threads would
        const buf = upload(mode, layer, T);
        const xp = wasm.put(x);
        const y = wasm.f32(T * N);
        kernels(mode).prepare(buf.scratch, xp, buf.alpha, buf.beta, T, K, K);
        kernels(mode).rows(y, buf.scratch, buf.bits, T, N, K, 16, N);
        kernels(mode).rows(y, buf.scratch, buf.bits, T, N, K, 0, 16);
        expect(wasm.read(y, T * N)).toEqual(all);
      });
    }

    it('x = 0 gives exactly 0; NaN in x gives NaN in every output of that token only', () => {
      const rng = new Rng(8);
      const layer = randomLayer(rng, 21, 300);
      const x = new Float32Array(3 * 300);
      x.set(rng.f32(300), 300);
      x.set(rng.f32(300), 600);
      x[600 + 299] = NaN; // last block of token 2
      const y = run(mode, layer, x, 3);
      expect(Array.from(y.subarray(0, 21))).toEqual(new Array(21).fill(0));
      expect(y.subarray(21, 42).every(Number.isFinite)).toBe(true);
      expect(y.subarray(42, 63).every(Number.isNaN)).toBe(true);
    });

    it('a block whose values are all below 2^-100 counts as zero; a block of ordinary values beside it is unaffected', () => {
      const rng = new Rng(9);
      const layer = randomLayer(rng, 16, 512);
      layer.beta.fill(0);
      const x = rng.f32(512);
      for (let k = 0; k < 256; k++) x[k] *= 2 ** -110;
      const y = run(mode, layer, x, 1);
      const ref = reference(mode, layer, x, 1);
      for (let n = 0; n < 16; n++) expect(Math.abs(y[n] - ref.quantized[n])).toBeLessThanOrEqual(2e-6 * ref.size[n]);
      expect(y.every(Number.isFinite)).toBe(true);
    });

    it('ignores whatever the scratch held before', () => {
      const rng = new Rng(12);
      const layer = randomLayer(rng, 17, 37);
      const x = wasm.put(rng.f32(37));
      const buf = upload(mode, layer, 1);
      const y1 = wasm.f32(17), y2 = wasm.f32(17);
      kernels(mode).gemm(y1, x, buf.bits, buf.alpha, buf.beta, 1, 17, 37, 37, buf.scratch);
      wasm.core.heap.u8(buf.scratch, kernels(mode).scratchBytes(37, 1)).fill(0xff);
      kernels(mode).gemm(y2, x, buf.bits, buf.alpha, buf.beta, 1, 17, 37, 37, buf.scratch);
      expect(wasm.read(y2, 17)).toEqual(wasm.read(y1, 17));
    });
  });
}
