// The fast 4-bit head (assembly/q4_fast.ts): the 16-bit activations of i8_fast_prepare times 4-bit
// weights, against the same quantization done here (integer sums in f64) and against the exact
// product within the stated bound (assembly/README.md).
import { beforeAll, describe, expect, it } from 'vitest';
import { BLOCK, quantize16 } from '../util/activations16.js';
import { Rng } from '../util/rng.js';
import { randomQ4, type Q4Weights } from '../util/q4.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** Per output: the quantized reference, the exact product, the stated bound, and Σ|x W| (the size f32 rounding scales with). */
function reference(x: Float32Array, W: Float64Array, T: number, N: number, K: number) {
  const quantized = new Float64Array(T * N), exact = new Float64Array(T * N), bound = new Float64Array(T * N), size = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const { q, step } = quantize16(x, t, K);
    for (let n = 0; n < N; n++) {
      let yq = 0, ye = 0, bd = 0, abs = 0;
      for (let k = 0; k < K; k++) {
        const w = W[n * K + k], s = step[Math.floor(k / BLOCK)];
        yq += q[k] * s * w; // W = scale * q_w: the integer sums times scale and step, all exact in f64
        ye += x[t * K + k] * w;
        bd += (Math.abs(w) * s) / 2;
        abs += Math.abs(x[t * K + k] * w);
      }
      quantized[t * N + n] = yq;
      exact[t * N + n] = ye;
      bound[t * N + n] = bd;
      size[t * N + n] = abs;
    }
  }
  return { quantized, exact, bound, size };
}

function run(x: Float32Array, q: Q4Weights, T: number, N: number, K: number): Float32Array {
  const y = wasm.f32(T * N + 8, 4321);
  const scratch = wasm.alloc(wasm.k.i8_fast_scratch_bytes(K, T));
  wasm.k.q4_fast_gemm(y, wasm.put(x), wasm.put(q.packed), wasm.put(q.scale), T, N, K, K, scratch);
  const out = wasm.read(y, T * N + 8);
  expect(Array.from(out.subarray(T * N))).toEqual(new Array(8).fill(4321));
  return out.subarray(0, T * N);
}

describe('q4_fast_gemm', () => {
  const shapes: [number, number, number][] = [];
  for (const K of [1, 7, 8, 13, 31, 32, 33, 100, 255, 256, 257, 600]) for (const N of [1, 3, 4, 9]) shapes.push([[1, 7, 16, 17][shapes.length % 4], N, K]);
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K}: the quantized reference to f32 rounding, the exact product within the bound`, () => {
      const rng = new Rng(T * 31337 + N * 101 + K);
      const x = rng.f32(T * K);
      const q = randomQ4(rng, N, K);
      const y = run(x, q, T, N, K);
      const ref = reference(x, q.W, T, N, K);
      for (let i = 0; i < T * N; i++) {
        expect(Math.abs(y[i] - ref.quantized[i])).toBeLessThanOrEqual(1e-6 * ref.size[i]);
        expect(Math.abs(y[i] - ref.exact[i])).toBeLessThanOrEqual(ref.bound[i] + 1e-6 * ref.size[i]);
      }
    });
  }

  it('is within 1e-4 of the exact product relative to the output size at a real head width', () => {
    const rng = new Rng(4);
    const x = rng.f32(1536);
    const q = randomQ4(rng, 64, 1536);
    const y = run(x, q, 1, 64, 1536);
    const ref = reference(x, q.W, 1, 64, 1536);
    let size = 0, err = 0;
    for (let n = 0; n < 64; n++) { size = Math.max(size, Math.abs(ref.exact[n])); err = Math.max(err, Math.abs(y[n] - ref.exact[n])); }
    expect(err).toBeLessThanOrEqual(1e-4 * size);
  });

  it('cannot overflow with every weight and activation at its largest (K=8192)', () => {
    const K = 8192, N = 5;
    const rng = new Rng(6);
    const q = randomQ4(rng, N, K);
    // every q = -8, every scale 1: W = -8 everywhere; x = -3: y = 24 K
    q.packed.fill(0x88);
    q.scale.fill(0x3f80);
    const y = run(new Float32Array(K).fill(-3), q, 1, N, K);
    for (let n = 0; n < N; n++) expect(Math.abs(y[n] - 24 * K)).toBeLessThanOrEqual(1e-6 * 24 * K);
  });

  it('NaN in a token gives NaN in that token only', () => {
    const rng = new Rng(5);
    const x = rng.f32(2 * 40);
    x[40 + 7] = NaN;
    const y = run(x, randomQ4(rng, 6, 40), 2, 6, 40);
    expect(y.subarray(0, 6).every(Number.isFinite)).toBe(true);
    expect(y.subarray(6).every(Number.isNaN)).toBe(true);
  });
});
