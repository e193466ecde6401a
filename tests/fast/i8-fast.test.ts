// The fast int8 matmul (assembly/i8_fast.ts): 16-bit activations times int8 weights, against
// the same quantization done here in TypeScript (integer sums in f64) and against the exact product
// within the stated bound.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const BLOCK = 256;
const LEVELS = 32767;

function nearest(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Case { T: number; N: number; K: number; x: Float32Array; w: Int8Array; scale: Float32Array }

function randomCase(rng: Rng, T: number, N: number, K: number): Case {
  const w = new Int8Array(N * K);
  for (let i = 0; i < w.length; i++) w[i] = rng.int(-127, 128);
  return { T, N, K, x: rng.f32(T * K), w, scale: rng.f32(N, () => rng.uniform(1e-3, 2e-2)) };
}

/** Per output: the quantized reference, the exact product, the stated bound, and Σ|x w| scale (the size f32 rounding scales with). */
function reference(c: Case) {
  const { T, N, K, x, w, scale } = c;
  const quantized = new Float64Array(T * N), exact = new Float64Array(T * N), bound = new Float64Array(T * N), size = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const q = new Int32Array(K), step = new Float64Array(Math.ceil(K / BLOCK));
    for (let b = 0; b < step.length; b++) {
      let amax = 0;
      for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) amax = Math.max(amax, Math.abs(x[t * K + k]));
      step[b] = amax < 2 ** -100 ? 0 : Math.fround(amax / LEVELS);
      const inv = amax < 2 ** -100 ? 0 : Math.fround(LEVELS / amax);
      for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) q[k] = nearest(Math.fround(x[t * K + k] * inv));
    }
    for (let n = 0; n < N; n++) {
      let yq = 0, ye = 0, bd = 0, abs = 0;
      for (let b = 0; b < step.length; b++) {
        let sum = 0;
        for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) {
          sum += q[k] * w[n * K + k];
          ye += x[t * K + k] * w[n * K + k];
          abs += Math.abs(x[t * K + k] * w[n * K + k]);
          bd += Math.abs(w[n * K + k]) * step[b] / 2;
        }
        yq += sum * step[b];
      }
      quantized[t * N + n] = yq * scale[n];
      exact[t * N + n] = ye * scale[n];
      bound[t * N + n] = bd * scale[n];
      size[t * N + n] = abs * scale[n];
    }
  }
  return { quantized, exact, bound, size };
}

function run(c: Case): Float32Array {
  const { T, N, K } = c;
  const y = wasm.f32(T * N + 8, 4321);
  const scratch = wasm.alloc(wasm.k.i8_fast_scratch_bytes(K, T));
  wasm.k.i8_fast_gemm(y, wasm.put(c.x), wasm.put(c.w), wasm.put(c.scale), T, N, K, K, scratch);
  const out = wasm.read(y, T * N + 8);
  expect(Array.from(out.subarray(T * N))).toEqual(new Array(8).fill(4321));
  return out.subarray(0, T * N);
}

describe('i8_fast_gemm', () => {
  const shapes: [number, number, number][] = [];
  for (const K of [1, 7, 8, 13, 100, 255, 256, 257, 600]) for (const N of [1, 3, 4, 9]) shapes.push([[1, 2, 3][shapes.length % 3], N, K]);
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K}: the quantized reference to f32 rounding, the exact product within the bound`, () => {
      const rng = new Rng(T * 31337 + N * 101 + K);
      const c = randomCase(rng, T, N, K);
      const y = run(c);
      const ref = reference(c);
      for (let i = 0; i < T * N; i++) {
        expect(Math.abs(y[i] - ref.quantized[i])).toBeLessThanOrEqual(1e-6 * ref.size[i]);
        expect(Math.abs(y[i] - ref.exact[i])).toBeLessThanOrEqual(ref.bound[i] + 1e-6 * ref.size[i]);
      }
    });
  }

  it('is within 1e-4 of the exact product relative to the output size at a real head width', () => {
    const rng = new Rng(4);
    const c = randomCase(rng, 1, 64, 1536);
    const y = run(c);
    const ref = reference(c);
    let size = 0, err = 0;
    for (let n = 0; n < 64; n++) { size = Math.max(size, Math.abs(ref.exact[n])); err = Math.max(err, Math.abs(y[n] - ref.exact[n])); }
    expect(err).toBeLessThanOrEqual(1e-4 * size);
  });

  it('cannot overflow with every weight and activation at its largest (K=8192)', () => {
    const K = 8192, N = 5;
    const w = new Int8Array(N * K).fill(-128);
    for (let i = 0; i < K; i++) w[i] = 127;
    const c: Case = { T: 1, N, K, x: new Float32Array(K).fill(-3), w, scale: new Float32Array(N).fill(1) };
    const y = run(c);
    expect(Math.abs(y[0] - -3 * 127 * K)).toBeLessThanOrEqual(1e-6 * 3 * 127 * K);
    for (let n = 1; n < N; n++) expect(Math.abs(y[n] - 3 * 128 * K)).toBeLessThanOrEqual(1e-6 * 3 * 128 * K);
  });

  it('NaN in a token gives NaN in that token only', () => {
    const rng = new Rng(5);
    const c = randomCase(rng, 2, 6, 40);
    c.x[40 + 7] = NaN;
    const y = run(c);
    expect(y.subarray(0, 6).every(Number.isFinite)).toBe(true);
    expect(y.subarray(6).every(Number.isNaN)).toBe(true);
  });
});
