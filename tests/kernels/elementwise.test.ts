// add, add_bias and argmax.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

describe('add', () => {
  for (const n of [1, 3, 4, 17, 1000]) {
    it(`y = a + b (one f32 rounding each), n=${n}, also in place`, () => {
      const rng = new Rng(n);
      const a = rng.f32(n), b = rng.f32(n);
      const ap = wasm.put(a), bp = wasm.put(b), y = wasm.f32(n + 1, 9);
      wasm.k.add(y, ap, bp, n);
      const want = Array.from(a, (v, i) => Math.fround(v + b[i]));
      expect(Array.from(wasm.read(y, n + 1))).toEqual([...want, 9]);
      wasm.k.add(ap, ap, bp, n);
      expect(Array.from(wasm.read(ap, n))).toEqual(want);
    });
  }
});

describe('add_bias', () => {
  it('adds b[n] to every row of y[T, N] (N=13, T=3)', () => {
    const rng = new Rng(1);
    const T = 3, N = 13;
    const y0 = rng.f32(T * N), b = rng.f32(N);
    const y = wasm.put(y0);
    wasm.k.add_bias(y, wasm.put(b), T, N);
    expect(Array.from(wasm.read(y, T * N))).toEqual(Array.from(y0, (v, i) => Math.fround(v + b[i % N])));
  });
});

describe('argmax', () => {
  function argmaxOf(x: Float32Array): number {
    return wasm.k.argmax(wasm.put(x), x.length);
  }

  function reference(x: Float32Array): number {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  }

  for (const n of [1, 2, 5, 16, 33, 1000, 32001]) {
    it(`finds the largest of ${n} random values`, () => {
      const rng = new Rng(n);
      for (let trial = 0; trial < 5; trial++) {
        const x = rng.f32(n, () => rng.normal() * 10);
        expect(argmaxOf(x)).toBe(reference(x));
      }
    });
  }

  it('returns the first index on ties, wherever the copies are (vector body or tail)', () => {
    const rng = new Rng(9);
    for (const [n, first, second] of [[10, 3, 9], [10, 8, 9], [37, 0, 36], [37, 35, 36], [8, 2, 6]]) {
      const x = rng.f32(n, () => rng.uniform(-1, 1));
      x[first] = 5;
      x[second] = 5;
      expect(argmaxOf(x)).toBe(first);
    }
    expect(argmaxOf(new Float32Array([-0, 0, 0]))).toBe(0); // -0 and +0 tie
    expect(argmaxOf(new Float32Array([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]))).toBe(0);
  });

  it('follows its rule on rows of NaN, ties, ±0, infinities and nothing (against the rule written out here)', () => {
    // the rule, plainly: NaN is larger than every number (the first NaN wins), else the first of the largest
    const rule = (x: Float32Array) => {
      if (x.length === 0) return -1;
      let best = 0;
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== x[i]) return i;
        if (x[i] > x[best]) best = i;
      }
      return best;
    };
    const rng = new Rng(31);
    const values = [NaN, Infinity, -Infinity, 0, -0, 1, 1, -1];
    for (let trial = 0; trial < 400; trial++) {
      const n = rng.int(0, 40);
      const x = rng.f32(n, () => (rng.next() < 0.3 ? values[rng.int(0, values.length)] : rng.normal()));
      expect(argmaxOf(x), Array.from(x).join(',')).toBe(rule(x));
    }
  });

  it('treats NaN as the largest value: the first NaN wins', () => {
    const x = new Float32Array(23).fill(1);
    x[5] = Infinity;
    x[17] = NaN;
    x[21] = NaN;
    expect(argmaxOf(x)).toBe(17);
    x[2] = NaN;
    expect(argmaxOf(x)).toBe(2);
  });

  it('returns -1 for an empty row', () => {
    expect(wasm.k.argmax(wasm.f32(1), 0)).toBe(-1);
  });
});
