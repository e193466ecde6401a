// The 4-bit head's exact kernels (assembly/q4.ts): matmul_q4 against a float64 reference computed from
// the values the layout defines (src/format/q4.ts), and the embedding row lookup bit for bit.
import { beforeAll, describe, expect, it } from 'vitest';
import { getQ4, q4Groups, setQ4 } from '../../src/format/q4.js';
import { Rng } from '../util/rng.js';
import { randomQ4 } from '../util/q4.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** y[t,n] = Σ_k x[t,k] W[n,k] in f64, and Σ_k |x W| (what f32 rounding scales with). */
function reference(x: Float32Array, W: Float64Array, T: number, N: number, K: number) {
  const y = new Float64Array(T * N), size = new Float64Array(T * N);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) {
    let s = 0, a = 0;
    for (let k = 0; k < K; k++) { s += x[t * K + k] * W[n * K + k]; a += Math.abs(x[t * K + k] * W[n * K + k]); }
    y[t * N + n] = s;
    size[t * N + n] = a;
  }
  return { y, size };
}

describe('the layout (src/format/q4.ts)', () => {
  it('stores every value of -8..7 at every column of a group and reads it back, touching no other column', () => {
    const packed = new Uint8Array(2 * 16);
    for (let k = 0; k < 64; k++) {
      for (let q = -8; q < 8; q++) {
        const before = Array.from({ length: 64 }, (_, j) => getQ4(packed, 0, j));
        setQ4(packed, 0, k, q);
        expect(getQ4(packed, 0, k)).toBe(q);
        for (let j = 0; j < 64; j++) if (j !== k) expect(getQ4(packed, 0, j)).toBe(before[j]);
      }
    }
  });

  it('puts columns i, 8+i, 16+i, 24+i of a group in the 4-bit fields of u16 word i, low bits first', () => {
    const packed = new Uint8Array(16);
    setQ4(packed, 0, 3, 1); setQ4(packed, 0, 11, 2); setQ4(packed, 0, 19, 3); setQ4(packed, 0, 27, -1);
    expect(packed[6] | (packed[7] << 8)).toBe(0xf321);
    expect(q4Groups(32)).toBe(1);
    expect(q4Groups(33)).toBe(2);
  });
});

describe('matmul_q4', () => {
  const shapes: [number, number, number][] = [];
  for (const K of [1, 7, 8, 31, 32, 33, 100, 257]) for (const N of [1, 3, 4, 9]) for (const T of [1, 7]) shapes.push([T, N, K]);
  shapes.push([16, 5, 64], [17, 6, 95]);
  for (const [T, N, K] of shapes) {
    it(`T=${T} N=${N} K=${K}: within 1e-6 of f64 (relative to Σ|x W|), x a view, padding ignored`, () => {
      const rng = new Rng(T * 7919 + N * 131 + K);
      const x = rng.f32(T * K);
      const q = randomQ4(rng, N, K);
      const y = wasm.f32(T * N + 4, 77);
      // x rows 3 floats wider than K, NaN around them: a read outside the view shows
      const xs = wasm.putStrided(x, K, K + 3, 1);
      wasm.k.matmul_q4(y, xs, wasm.put(q.packed), wasm.put(q.scale), T, N, K, K + 3);
      const got = wasm.read(y, T * N + 4);
      const ref = reference(x, q.W, T, N, K);
      for (let i = 0; i < T * N; i++) expect(Math.abs(got[i] - ref.y[i])).toBeLessThanOrEqual(1e-6 * ref.size[i] + 1e-30);
      expect(Array.from(got.subarray(T * N))).toEqual([77, 77, 77, 77]);
    });
  }
});

describe('q4_row_to_f32', () => {
  for (const n of [1, 5, 31, 32, 33, 64, 100, 384]) {
    it(`gives scale * q exactly as f32, n=${n}, writing nothing past n`, () => {
      const rng = new Rng(500 + n);
      const q = randomQ4(rng, 3, n, 0xf);
      const G = q4Groups(n);
      const y = wasm.f32(n + 4, 5);
      const row = 2; // the last row: its padding is followed by the guard bytes
      wasm.k.q4_row_to_f32(y, wasm.put(q.packed) + row * G * 16, wasm.put(q.scale) + 2 * row * G, n);
      const got = wasm.read(y, n + 4);
      expect(Array.from(got.subarray(0, n))).toEqual(Array.from(q.W.subarray(row * n, (row + 1) * n), Math.fround));
      expect(Array.from(got.subarray(n))).toEqual([5, 5, 5, 5]);
    });
  }
});
