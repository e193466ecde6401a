// 1-bit GEMV/GEMM against a float64 reference built from the same signs, alpha and beta; the range form
// the runtime calls (onebit_prepare, onebit_rows) against the GEMM, bit for bit, at awkward sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import { packSigns, packedShape } from '../../src/format/onebit.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

interface Layer { N: number; K: number; signs: Int8Array; alpha: Float32Array; beta: Float32Array }

function randomLayer(rng: Rng, N: number, K: number): Layer {
  const signs = new Int8Array(N * K);
  for (let i = 0; i < N * K; i++) signs[i] = rng.next() < 0.5 ? -1 : 1;
  return { N, K, signs, alpha: rng.f32(K, () => rng.uniform(0.2, 1.5)), beta: rng.f32(K, () => 0.1 * rng.normal()) };
}

/** y[t,n] in f64, and the size each output is judged against: max(|y|, ‖terms‖₂), the typical |y| for random signs. */
function reference(layer: Layer, x: Float32Array, T: number): { y: Float64Array; size: Float64Array } {
  const { N, K, signs, alpha, beta } = layer;
  const y = new Float64Array(T * N), size = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = 0, sq = 0;
      for (let k = 0; k < K; k++) {
        const term = (alpha[k] * signs[n * K + k] + beta[k]) * x[t * K + k];
        s += term;
        sq += term * term;
      }
      y[t * N + n] = s;
      size[t * N + n] = Math.max(Math.abs(s), Math.sqrt(sq));
    }
  }
  return { y, size };
}

/** Load a layer into WASM memory. */
function upload(layer: Layer) {
  const bits = packSigns(layer.N, layer.K, (n, k) => layer.signs[n * layer.K + k] > 0);
  expect(bits.length).toBe(packedShape(layer.N, layer.K).bytes);
  return {
    bits: wasm.put(bits),
    alpha: wasm.put(layer.alpha),
    beta: wasm.put(layer.beta),
    scratch: wasm.alloc(wasm.k.onebit_scratch_bytes(layer.K, 1)),
  };
}

/** Largest |y - ref| / size over all outputs. */
function worstError(y: Float32Array, ref: { y: Float64Array; size: Float64Array }): number {
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - ref.y[i]) / ref.size[i]);
  return Number.isNaN(worst) ? Infinity : worst;
}

describe('onebit_scratch_bytes', () => {
  it('is 16 bytes per padded column and 64 for c, per token', () => {
    for (const K of [1, 7, 8, 9, 1536, 3072]) {
      for (const T of [1, 3, 64]) expect(wasm.k.onebit_scratch_bytes(K, T)).toBe(T * (16 * Math.ceil(K / 8) * 8 + 64));
    }
  });
});

describe('onebit_gemv', () => {
  const Ks = [8, 13, 32, 37, 100, 129];
  const Ns = [1, 5, 16, 17, 30, 33];
  for (const K of Ks) {
    for (const N of Ns) {
      it(`matches the f64 reference within 1e-5 at N=${N} K=${K}, writing only N outputs`, () => {
        const rng = new Rng(1000 * K + N);
        const layer = randomLayer(rng, N, K);
        const x = rng.f32(K);
        const buf = upload(layer);
        const y = wasm.f32(N + 16, 12345); // 16 guard values past the end
        wasm.k.onebit_gemv(y, wasm.put(x), buf.bits, buf.alpha, buf.beta, N, K, buf.scratch);
        const out = wasm.read(y, N + 16);
        expect(worstError(out.subarray(0, N), reference(layer, x, 1))).toBeLessThanOrEqual(1e-5);
        expect(Array.from(out.subarray(N))).toEqual(new Array(16).fill(12345));
      });
    }
  }

  it('matches at a real layer width (N=300, K=1536)', () => {
    const rng = new Rng(7);
    const layer = randomLayer(rng, 300, 1536);
    const x = rng.f32(1536);
    const buf = upload(layer);
    const y = wasm.f32(300);
    wasm.k.onebit_gemv(y, wasm.put(x), buf.bits, buf.alpha, buf.beta, 300, 1536, buf.scratch);
    expect(worstError(wasm.read(y, 300), reference(layer, x, 1))).toBeLessThanOrEqual(1e-5);
  });

  it('is exact when every product is exact (small integers)', () => {
    // alpha, beta, x small integers: every partial sum is an integer below 2^24, so f32 is exact
    const rng = new Rng(11);
    const N = 21, K = 45;
    const layer = randomLayer(rng, N, K);
    layer.alpha = rng.f32(K, () => rng.int(1, 5));
    layer.beta = rng.f32(K, () => rng.int(-2, 3));
    const x = rng.f32(K, () => rng.int(-9, 10));
    const buf = upload(layer);
    const y = wasm.f32(N);
    wasm.k.onebit_gemv(y, wasm.put(x), buf.bits, buf.alpha, buf.beta, N, K, buf.scratch);
    expect(Array.from(wasm.read(y, N))).toEqual(Array.from(reference(layer, x, 1).y));
  });

  it('ignores whatever the scratch held before', () => {
    const rng = new Rng(12);
    const layer = randomLayer(rng, 17, 37);
    const x = wasm.put(rng.f32(37));
    const buf = upload(layer);
    const y1 = wasm.f32(17), y2 = wasm.f32(17);
    wasm.k.onebit_gemv(y1, x, buf.bits, buf.alpha, buf.beta, 17, 37, buf.scratch);
    wasm.core.heap.u8(buf.scratch, wasm.k.onebit_scratch_bytes(37, 1)).fill(0xff);
    wasm.k.onebit_gemv(y2, x, buf.bits, buf.alpha, buf.beta, 17, 37, buf.scratch);
    expect(wasm.read(y2, 17)).toEqual(wasm.read(y1, 17));
  });
});

describe('onebit_gemm', () => {
  for (const [T, N, K] of [[1, 5, 13], [3, 17, 37], [7, 33, 100], [4, 16, 129]]) {
    it(`over T=${T} tokens equals the reference and T single-token GEMVs (N=${N} K=${K})`, () => {
      const rng = new Rng(T * 7919 + N * 31 + K);
      const layer = randomLayer(rng, N, K);
      const x = rng.f32(T * K);
      const buf = upload(layer);
      const xp = wasm.put(x);
      const y = wasm.f32(T * N);
      wasm.k.onebit_gemm(y, xp, buf.bits, buf.alpha, buf.beta, T, N, K, K, buf.scratch);
      const out = wasm.read(y, T * N);
      expect(worstError(out, reference(layer, x, T))).toBeLessThanOrEqual(1e-5);

      const yt = wasm.f32(N);
      for (let t = 0; t < T; t++) {
        wasm.k.onebit_gemv(yt, xp + 4 * t * K, buf.bits, buf.alpha, buf.beta, N, K, buf.scratch);
        expect(wasm.read(yt, N)).toEqual(out.subarray(t * N, (t + 1) * N));
      }
    });
  }
});

describe('onebit_rows (the range form threads split)', () => {
  // awkward sizes: N not a multiple of 16, K not a multiple of 8, x a view into wider rows
  for (const [T, N, K, stride] of [[1, 5, 13, 13], [3, 17, 37, 40], [7, 33, 100, 103], [4, 16, 129, 129], [2, 300, 1536, 1600]]) {
    it(`any cut into ranges of 16 rows gives the GEMM's bits, writing only the range (T=${T} N=${N} K=${K} xStride=${stride})`, () => {
      const rng = new Rng(T * 31 + N * 7 + K);
      const layer = randomLayer(rng, N, K);
      const x = rng.f32(T * K);
      const buf = upload(layer);
      const xv = wasm.putStrided(x, K, stride);
      const want = wasm.f32(T * N);
      wasm.k.onebit_gemm(want, wasm.put(x), buf.bits, buf.alpha, buf.beta, T, N, K, K, buf.scratch);
      const expected = wasm.read(want, T * N);
      expect(worstError(expected, reference(layer, x, T))).toBeLessThanOrEqual(1e-5);

      const tables = wasm.alloc(wasm.k.onebit_scratch_bytes(K, T));
      wasm.k.onebit_prepare(tables, xv, buf.alpha, buf.beta, T, K, stride);
      // the whole range at once
      const whole = wasm.f32(T * N);
      wasm.k.onebit_rows(whole, tables, buf.bits, T, N, K, 0, N);
      expect(wasm.read(whole, T * N)).toEqual(expected);
      // ranges cut at every multiple of 16, in reverse order: each writes its rows only
      const pieces = wasm.f32(T * N, 777);
      const cuts = [...Array.from({ length: Math.ceil(N / 16) }, (_, i) => 16 * i), N];
      for (let i = cuts.length - 2; i >= 0; i--) {
        wasm.k.onebit_rows(pieces, tables, buf.bits, T, N, K, cuts[i], cuts[i + 1]);
        const got = wasm.read(pieces, T * N);
        for (let t = 0; t < T; t++) {
          for (let n = 0; n < N; n++) expect(got[t * N + n]).toBe(n >= cuts[i] ? expected[t * N + n] : 777);
        }
      }
    });
  }
});
