// Dense matmuls (f32, f16, int8 weights) against float64 references computed from the exact
// weight values (halves decoded from their bits, int8 times its row scale).
import { beforeAll, describe, expect, it } from 'vitest';
import { halfToNumber } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** y[t,n] = Σ_k x[t,k] W[n,k] in f64, and max(|y|, ‖terms‖₂) as the size each output is judged against. */
function reference(x: Float32Array, W: ArrayLike<number>, T: number, N: number, K: number) {
  const y = new Float64Array(T * N), size = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = 0, sq = 0;
      for (let k = 0; k < K; k++) {
        const term = x[t * K + k] * W[n * K + k];
        s += term;
        sq += term * term;
      }
      y[t * N + n] = s;
      size[t * N + n] = Math.max(Math.abs(s), Math.sqrt(sq));
    }
  }
  return { y, size };
}

function worstError(y: Float32Array, ref: { y: Float64Array; size: Float64Array }): number {
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - ref.y[i]) / ref.size[i]);
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Random finite halves around 2^-4 .. 2^2, with some subnormals and zeros mixed in. */
function randomHalves(rng: Rng, n: number): Uint16Array {
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = rng.next() < 0.5 ? 0x8000 : 0;
    const r = rng.next();
    const exponent = r < 0.05 ? 0 : rng.int(11, 18);
    h[i] = sign | (exponent << 10) | rng.int(0, 1024);
  }
  return h;
}

// [T, N, K]: every N with every K, T taking turns over 1, 3, 5
const shapes: [number, number, number][] = [];
for (const K of [8, 13, 32, 37, 100, 129]) for (const N of [1, 5, 16, 17, 33]) shapes.push([[1, 3, 5][shapes.length % 3], N, K]);
shapes.push([6, 7, 1]);

describe('matmul_f32', () => {
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K} within 1e-6 of f64`, () => {
      const rng = new Rng(T * 100003 + N * 1009 + K);
      const x = rng.f32(T * K), w = rng.f32(N * K);
      const y = wasm.f32(T * N + 8, 777);
      wasm.k.matmul_f32(y, wasm.put(x), wasm.put(w), T, N, K, K);
      const out = wasm.read(y, T * N + 8);
      expect(worstError(out.subarray(0, T * N), reference(x, w, T, N, K))).toBeLessThanOrEqual(1e-6);
      expect(Array.from(out.subarray(T * N))).toEqual(new Array(8).fill(777));
    });
  }

  it('gives the same bits for a token whether it is alone or in a sequence', () => {
    const rng = new Rng(5);
    const T = 6, N = 19, K = 45;
    const x = wasm.put(rng.f32(T * K)), w = wasm.put(rng.f32(N * K));
    const ySeq = wasm.f32(T * N), yOne = wasm.f32(N);
    wasm.k.matmul_f32(ySeq, x, w, T, N, K, K);
    for (let t = 0; t < T; t++) {
      wasm.k.matmul_f32(yOne, x + 4 * t * K, w, 1, N, K, K);
      expect(wasm.read(yOne, N)).toEqual(wasm.read(ySeq + 4 * t * N, N));
    }
  });
});

describe('matmul_f16', () => {
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K} within 1e-6 of f64 over the decoded halves`, () => {
      const rng = new Rng(T * 100019 + N * 1013 + K);
      const x = rng.f32(T * K), w = randomHalves(rng, N * K);
      const y = wasm.f32(T * N);
      wasm.k.matmul_f16(y, wasm.put(x), wasm.put(w), T, N, K, K);
      const W = Array.from(w, halfToNumber);
      expect(worstError(wasm.read(y, T * N), reference(x, W, T, N, K))).toBeLessThanOrEqual(1e-6);
    });
  }
});

describe('matmul_i8', () => {
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K} within 1e-6 of f64 with per-row scales`, () => {
      const rng = new Rng(T * 100043 + N * 1019 + K);
      const x = rng.f32(T * K);
      const q = new Int8Array(N * K);
      for (let i = 0; i < q.length; i++) q[i] = rng.int(-128, 128);
      const scale = rng.f32(N, () => rng.uniform(0.001, 0.05));
      const y = wasm.f32(T * N);
      wasm.k.matmul_i8(y, wasm.put(x), wasm.put(q), wasm.put(scale), T, N, K, K);
      const W = Float64Array.from(q, (v, i) => v * scale[Math.floor(i / K)]);
      expect(worstError(wasm.read(y, T * N), reference(x, W, T, N, K))).toBeLessThanOrEqual(1e-6);
    });
  }
});
