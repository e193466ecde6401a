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
      wasm.k.mul_silu(y, xp, zp, 1, n, n);
      const out = wasm.read(y, n);
      expect(elementRelError(out, Array.from(x, (v, i) => v * silu(z[i])))).toBeLessThanOrEqual(1e-6);
      wasm.k.mul_silu(xp, xp, zp, 1, n, n);
      expect(wasm.read(xp, n)).toEqual(out);
    });
  }

  for (const [T, width, stride] of [[3, 5, 11], [2, 37, 74], [4, 8, 9]]) {
    it(`T=${T} width=${width}: z as a view of rows ${stride} apart (in_proj's x | z) within 1e-6`, () => {
      const rng = new Rng(60 + width);
      const x = rng.f32(T * width), z = rng.f32(T * width, () => rng.uniform(-20, 20));
      const y = wasm.f32(T * width + 1, 9);
      wasm.k.mul_silu(y, wasm.put(x), wasm.putStrided(z, width, stride, stride - width), T, width, stride);
      const out = wasm.read(y, T * width + 1);
      expect(elementRelError(out.subarray(0, T * width), Array.from(x, (v, i) => v * silu(z[i])))).toBeLessThanOrEqual(1e-6);
      expect(out[T * width]).toBe(9);
    });
  }
});

describe('dt_softplus', () => {
  const ref = (v: number, lo: number, hi: number) => Math.min(Math.max(v > 20 ? v : Math.log1p(Math.exp(v)), lo), hi);
  for (const [T, H, stride, lo, hi] of [[1, 4, 4, 0, Infinity], [3, 7, 20, 0, Infinity], [5, 3, 11, 0.001, 0.1], [2, 24, 33, 0.05, Infinity]]) {
    it(`T=${T} H=${H}: dt = clamp(softplus(x + bias), ${lo}, ${hi}) from rows ${stride} apart, within 1e-6`, () => {
      const rng = new Rng(70 + H);
      const x = rng.f32(T * H, () => rng.uniform(-25, 25)), bias = rng.f32(H, () => rng.uniform(-3, 3));
      const dt = wasm.f32(T * H + 1, 9);
      wasm.k.dt_softplus(dt, wasm.putStrided(x, H, stride, stride - H), wasm.put(bias), T, H, stride, lo, hi);
      const out = wasm.read(dt, T * H + 1);
      const want = Array.from(x, (v, i) => ref(Math.fround(v + bias[i % H]), Math.fround(lo), Math.fround(hi)));
      expect(elementRelError(out.subarray(0, T * H), want)).toBeLessThanOrEqual(1e-6);
      for (const v of out.subarray(0, T * H)) expect(v >= Math.fround(lo) && v <= Math.fround(hi)).toBe(true);
      expect(out[T * H]).toBe(9);
    });
  }

  it('gives the bits of add_bias then softplus when there is no clamp', () => {
    const rng = new Rng(80);
    const T = 3, H = 9;
    const x = rng.f32(T * H, () => rng.uniform(-30, 30)), bias = rng.f32(H);
    const dt = wasm.f32(T * H), twoStep = wasm.put(x);
    wasm.k.dt_softplus(dt, wasm.put(x), wasm.put(bias), T, H, H, 0, Infinity);
    wasm.k.add_bias(twoStep, wasm.put(bias), T, H);
    wasm.k.softplus(twoStep, twoStep, T * H);
    expect(wasm.read(dt, T * H)).toEqual(wasm.read(twoStep, T * H));
  });
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
