// Causal depthwise conv1d with carried state, against a float64 reference over the whole history.
import { beforeAll, describe, expect, it } from 'vitest';
import { normRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/**
 * Reference: the inputs seen so far are the W-1 state entries followed by x; output t is the
 * dot of w[c] with the W inputs ending at token t. Returns y and the new state (last W-1 inputs).
 */
function conv1dRef(x: Float32Array, state: Float32Array, w: Float32Array, b: Float32Array, T: number, C: number, W: number) {
  const y = new Float64Array(T * C), newState = new Float32Array(C * (W - 1));
  for (let c = 0; c < C; c++) {
    const history = [...state.subarray(c * (W - 1), (c + 1) * (W - 1))];
    for (let t = 0; t < T; t++) history.push(x[t * C + c]);
    for (let t = 0; t < T; t++) {
      let s = b[c];
      for (let j = 0; j < W; j++) s += w[c * W + j] * history[t + j];
      y[t * C + c] = s;
    }
    newState.set(history.slice(history.length - (W - 1)), c * (W - 1));
  }
  return { y, state: newState };
}

const cases: [number, number, number][] = [[1, 1, 4], [3, 5, 4], [2, 16, 4], [9, 37, 4], [4, 7, 2], [5, 6, 1], [2, 3, 5], [17, 10, 3]];

describe('conv1d', () => {
  for (const [T, C, W] of cases) {
    it(`T=${T} C=${C} W=${W}: output within 1e-6 and state = the last W-1 inputs`, () => {
      const rng = new Rng(T * 1000 + C * 10 + W);
      const x = rng.f32(T * C), state = rng.f32(C * (W - 1)), w = rng.f32(C * W), b = rng.f32(C);
      const sp = wasm.put(state), y = wasm.f32(T * C);
      wasm.k.conv1d(y, wasm.put(x), sp, wasm.put(w), wasm.put(b), T, C, W, C);
      const ref = conv1dRef(x, state, w, b, T, C, W);
      expect(normRelError(wasm.read(y, T * C), ref.y)).toBeLessThanOrEqual(1e-6);
      expect(wasm.read(sp, C * (W - 1))).toEqual(ref.state); // copies, so exact
    });
  }
});

describe('conv1d on a view', () => {
  for (const [T, C, W] of cases) {
    it(`T=${T} C=${C} W=${W}: x as columns of wider rows (as xBC of in_proj): within 1e-6, the same bits and state`, () => {
      const rng = new Rng(T * 1000 + C * 10 + W);
      const x = rng.f32(T * C), state = rng.f32(C * (W - 1)), w = rng.f32(C * W), b = rng.f32(C);
      const stride = C + 7, col0 = 5; // rows not 16-byte aligned
      const sp = wasm.put(state), y = wasm.f32(T * C);
      wasm.k.conv1d(y, wasm.putStrided(x, C, stride, col0), sp, wasm.put(w), wasm.put(b), T, C, W, stride);
      const ref = conv1dRef(x, state, w, b, T, C, W);
      expect(normRelError(wasm.read(y, T * C), ref.y)).toBeLessThanOrEqual(1e-6);
      expect(wasm.read(sp, C * (W - 1))).toEqual(ref.state);
      const spc = wasm.put(state), yc = wasm.f32(T * C);
      wasm.k.conv1d(yc, wasm.put(x), spc, wasm.put(w), wasm.put(b), T, C, W, C);
      expect(wasm.read(y, T * C)).toEqual(wasm.read(yc, T * C));
    });
  }
});

describe('conv1d one token at a time', () => {
  for (const [T, C, W] of cases) {
    it(`T=${T} calls of one token give the same bits as one call of T (C=${C} W=${W})`, () => {
      const rng = new Rng(T * 2000 + C * 10 + W);
      const x = rng.f32(T * C), state = rng.f32(C * (W - 1)), w = wasm.put(rng.f32(C * W)), b = wasm.put(rng.f32(C));
      const xp = wasm.put(x);
      const seqState = wasm.put(state), ySeq = wasm.f32(T * C);
      wasm.k.conv1d(ySeq, xp, seqState, w, b, T, C, W, C);
      const stepState = wasm.put(state), yStep = wasm.f32(C);
      for (let t = 0; t < T; t++) {
        wasm.k.conv1d(yStep, xp + 4 * t * C, stepState, w, b, 1, C, W, C);
        expect(wasm.read(yStep, C)).toEqual(wasm.read(ySeq + 4 * t * C, C));
      }
      expect(wasm.read(stepState, C * (W - 1))).toEqual(wasm.read(seqState, C * (W - 1)));
    });
  }

  it('continues a sequence split in two calls exactly', () => {
    const rng = new Rng(77);
    const T = 11, C = 9, W = 4;
    const x = wasm.put(rng.f32(T * C)), w = wasm.put(rng.f32(C * W)), b = wasm.put(rng.f32(C)), init = rng.f32(C * (W - 1));
    const s1 = wasm.put(init), y1 = wasm.f32(T * C);
    wasm.k.conv1d(y1, x, s1, w, b, T, C, W, C);
    const s2 = wasm.put(init), y2 = wasm.f32(T * C);
    wasm.k.conv1d(y2, x, s2, w, b, 2, C, W, C); // shorter than W-1 first
    wasm.k.conv1d(y2 + 4 * 2 * C, x + 4 * 2 * C, s2, w, b, T - 2, C, W, C);
    expect(wasm.read(y2, T * C)).toEqual(wasm.read(y1, T * C));
    expect(wasm.read(s2, C * (W - 1))).toEqual(wasm.read(s1, C * (W - 1)));
  });
});
