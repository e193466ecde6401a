// exp_vec: max relative error against fp64 over the range of normal results, and the edges.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** The bound stated in assembly/exp.ts. */
const MAX_REL_ERROR = 1.5e-7;

function run(x: Float32Array): Float32Array {
  const y = wasm.f32(x.length);
  wasm.k.exp_vec(y, wasm.put(x), x.length);
  return wasm.read(y, x.length);
}

function maxRelError(x: Float32Array, y: Float32Array): { err: number; at: number } {
  let err = 0, at = NaN;
  for (let i = 0; i < x.length; i++) {
    const e = Math.abs(y[i] - Math.exp(x[i])) / Math.exp(x[i]);
    if (!(e <= err)) { err = e; at = x[i]; }
  }
  return { err, at };
}

describe('exp_vec', () => {
  it(`has relative error <= ${MAX_REL_ERROR} over [-87.3, 88.7] (dense grid and random points)`, () => {
    const n = 400_001;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -87.3 + (176 * i) / (n - 1);
    const rng = new Rng(1);
    const r = rng.f32(100_003, () => rng.uniform(-87.3, 88.7));
    const small = rng.f32(20_001, () => rng.uniform(-1, 1)); // where the polynomial alone matters
    for (const xs of [x, r, small]) {
      const { err, at } = maxRelError(xs, run(xs));
      expect(err, `at x=${at}`).toBeLessThanOrEqual(MAX_REL_ERROR);
    }
  });

  it('overflows to inf, underflows through subnormals to 0, and passes NaN/inf through', () => {
    const x = new Float32Array([88.72, 88.73, 89, 1000, Infinity, -87.5, -100, -103, -104, -1000, -Infinity, NaN, 0, -0]);
    const y = run(x);
    expect(Math.abs(y[0] - Math.exp(x[0])) / Math.exp(x[0])).toBeLessThanOrEqual(MAX_REL_ERROR); // just below FLT_MAX
    expect(y.slice(1, 5)).toEqual(new Float32Array([Infinity, Infinity, Infinity, Infinity]));
    // subnormal results: within one subnormal step (2^-149) of the true value
    for (const i of [5, 6, 7]) expect(Math.abs(y[i] - Math.exp(x[i]))).toBeLessThanOrEqual(2 ** -149);
    expect(y[6]).toBeGreaterThan(0);
    expect(y.slice(8, 11)).toEqual(new Float32Array([0, 0, 0]));
    expect(y[11]).toBeNaN();
    expect(y[12]).toBe(1);
    expect(y[13]).toBe(1);
  });

  it('gives the same bits in the n % 4 tail as in the vector body, and may run in place', () => {
    const rng = new Rng(2);
    const x = rng.f32(7, () => rng.uniform(-10, 10));
    const full = run(x);
    const ptr = wasm.put(x.subarray(4)); // 3 values: tail only
    wasm.k.exp_vec(ptr, ptr, 3);
    expect(wasm.read(ptr, 3)).toEqual(full.subarray(4));
  });
});
