// silu, mul_silu and softplus against float64 definitions, including their extremes.
import { beforeAll, describe, expect, it } from 'vitest';
import { elementRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const silu = (x: number) => x / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log1p(Math.exp(x));

/** Run a one-input kernel out of place and in place; both must agree. */
function unary(kernel: 'silu' | 'softplus', x: Float32Array): Float32Array {
  const xp = wasm.put(x), y = wasm.f32(x.length + 4, 3);
  wasm.k[kernel](y, xp, x.length);
  const out = wasm.read(y, x.length + 4);
  expect(Array.from(out.subarray(x.length))).toEqual([3, 3, 3, 3]);
  wasm.k[kernel](xp, xp, x.length);
  expect(wasm.read(xp, x.length)).toEqual(out.subarray(0, x.length));
  return out.subarray(0, x.length);
}

describe('silu', () => {
  for (const n of [1, 3, 4, 13, 100, 1001]) {
    it(`matches x/(1+exp(-x)) within 1e-6 relative, n=${n}`, () => {
      const rng = new Rng(n);
      const x = rng.f32(n, () => rng.uniform(-30, 30));
      expect(elementRelError(unary('silu', x), Array.from(x, silu))).toBeLessThanOrEqual(1e-6);
    });
  }

  it('is x for large x, tends to -0 for very negative x, NaN for NaN', () => {
    const x = new Float32Array([80, 1e30, Infinity, -80, -1000, -Infinity, NaN, 0]);
    const y = unary('silu', x);
    expect(Array.from(y.subarray(0, 3))).toEqual([80, 1e30, Infinity].map(Math.fround));
    expect(Math.abs(y[3] - silu(-80))).toBeLessThanOrEqual(1e-6 * Math.abs(silu(-80)));
    expect(Object.is(y[4], -0)).toBe(true);
    expect(Object.is(y[5], -0) || Number.isNaN(y[5])).toBe(true);
    expect(y[6]).toBeNaN();
    expect(y[7]).toBe(0);
  });
});

describe('mul_silu', () => {
  for (const n of [1, 6, 37, 256]) {
    it(`y = x * silu(z) within 1e-6 relative, n=${n}, also in place`, () => {
      const rng = new Rng(50 + n);
      const x = rng.f32(n), z = rng.f32(n, () => rng.uniform(-20, 20));
      const xp = wasm.put(x), zp = wasm.put(z), y = wasm.f32(n);
      wasm.k.mul_silu(y, xp, zp, n);
      const out = wasm.read(y, n);
      expect(elementRelError(out, Array.from(x, (v, i) => v * silu(z[i])))).toBeLessThanOrEqual(1e-6);
      wasm.k.mul_silu(xp, xp, zp, n);
      expect(wasm.read(xp, n)).toEqual(out);
    });
  }
});

describe('softplus', () => {
  it('matches log1p(exp(x)) within 1e-6 relative over [-87, 20] (normal f32 results), n=997', () => {
    const rng = new Rng(3);
    const x = rng.f32(997, () => rng.uniform(-87, 20));
    expect(elementRelError(unary('softplus', x), Array.from(x, softplus))).toBeLessThanOrEqual(1e-6);
  });

  it('is x above 20 (as PyTorch), exp(x) far below 0, and keeps inf/NaN', () => {
    const x = new Float32Array([20.000002, 25, 1e6, Infinity, 20, -30, -90, -Infinity, NaN]);
    const y = unary('softplus', x);
    expect(Array.from(y.subarray(0, 4))).toEqual(Array.from(x.subarray(0, 4)));
    expect(Math.abs(y[4] - softplus(20)) / softplus(20)).toBeLessThanOrEqual(1e-7);
    expect(Math.abs(y[5] - Math.exp(x[5])) / Math.exp(x[5])).toBeLessThanOrEqual(1e-6); // no cancellation
    expect(y[6]).toBeGreaterThan(0);
    expect(Math.abs(y[6] - Math.exp(-90))).toBeLessThanOrEqual(2 ** -149); // subnormal
    expect(y[7]).toBe(0);
    expect(y[8]).toBeNaN();
  });
});
