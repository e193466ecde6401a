// rmsnorm and gated_rmsnorm against float64 references, out of place and in place, z also as a view.
import { beforeAll, describe, expect, it } from 'vitest';
import { elementRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const silu = (x: number) => x / (1 + Math.exp(-x));

/** RMSNorm of each run of `group` values of u (length T*D), times w[i mod D]. */
function rmsnormRef(u: ArrayLike<number>, w: ArrayLike<number>, D: number, group: number, eps: number): Float64Array {
  const y = new Float64Array(u.length);
  for (let g0 = 0; g0 < u.length; g0 += group) {
    let ms = 0;
    for (let i = 0; i < group; i++) ms += u[g0 + i] ** 2;
    const scale = 1 / Math.sqrt(ms / group + eps);
    for (let i = 0; i < group; i++) y[g0 + i] = u[g0 + i] * scale * w[(g0 + i) % D];
  }
  return y;
}

describe('rmsnorm', () => {
  for (const [T, D] of [[1, 1], [1, 7], [3, 64], [2, 130], [4, 33]]) {
    it(`T=${T} D=${D} within 1e-6 relative, also in place`, () => {
      const rng = new Rng(T * 1000 + D);
      const x = rng.f32(T * D, () => 3 * rng.normal()), w = rng.f32(D, () => rng.uniform(0.5, 1.5));
      const xp = wasm.put(x), wp = wasm.put(w), y = wasm.f32(T * D);
      wasm.k.rmsnorm(y, xp, wp, T, D, 1e-5);
      const out = wasm.read(y, T * D);
      expect(elementRelError(out, rmsnormRef(x, w, D, D, 1e-5))).toBeLessThanOrEqual(1e-6);
      wasm.k.rmsnorm(xp, xp, wp, T, D, 1e-5);
      expect(wasm.read(xp, T * D)).toEqual(out);
    });
  }

  it('uses eps (a tiny row is not blown up)', () => {
    const x = new Float32Array([1e-4, -2e-4, 3e-4]), w = new Float32Array([1, 1, 1]);
    const y = wasm.f32(3);
    wasm.k.rmsnorm(y, wasm.put(x), wasm.put(w), 1, 3, 1e-2);
    expect(elementRelError(wasm.read(y, 3), rmsnormRef(x, w, 3, 3, 1e-2))).toBeLessThanOrEqual(1e-6);
  });
});

describe('gated_rmsnorm', () => {
  for (const [T, D, group] of [[1, 64, 64], [3, 96, 32], [2, 30, 10], [5, 21, 7], [1, 13, 13]]) {
    it(`T=${T} D=${D} groupSize=${group}: rmsnorm(x*silu(z)) per group within 1e-6, also in place`, () => {
      const rng = new Rng(T * 10000 + D * 100 + group);
      const x = rng.f32(T * D), z = rng.f32(T * D, () => 2 * rng.normal()), w = rng.f32(D, () => rng.uniform(0.5, 1.5));
      const xp = wasm.put(x), zp = wasm.put(z), wp = wasm.put(w), y = wasm.f32(T * D);
      wasm.k.gated_rmsnorm(y, xp, zp, wp, T, D, group, 1e-6, D);
      const out = wasm.read(y, T * D);
      const u = Array.from(x, (v, i) => v * silu(z[i]));
      expect(elementRelError(out, rmsnormRef(u, w, D, group, 1e-6))).toBeLessThanOrEqual(1e-6);
      wasm.k.gated_rmsnorm(xp, xp, zp, wp, T, D, group, 1e-6, D);
      expect(wasm.read(xp, T * D)).toEqual(out);
      // z as the first D columns of wider rows (in_proj's z | xBC | dt), rows not 16-byte aligned
      const zView = wasm.putStrided(z, D, D + 5), yView = wasm.f32(T * D);
      wasm.k.gated_rmsnorm(yView, wasm.put(x), zView, wp, T, D, group, 1e-6, D + 5);
      expect(wasm.read(yView, T * D)).toEqual(out);
    });
  }
});
