// conv1d computes every output in one defined f32 order (acc = 0; acc += w[j] * in[j]; + b), on its
// four-channel SIMD path (W = 4) and on its one-channel path alike: checked bit for bit against that
// order written out here with Math.fround.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const f = Math.fround;

/** The f32 result, step by step, and the new state. */
function conv(x: Float32Array, state: Float32Array, w: Float32Array, b: Float32Array, T: number, C: number, W: number) {
  const y = new Float32Array(T * C), next = new Float32Array(C * (W - 1));
  for (let c = 0; c < C; c++) {
    const seen = [...state.subarray(c * (W - 1), (c + 1) * (W - 1))];
    for (let t = 0; t < T; t++) {
      seen.push(x[t * C + c]);
      let acc = 0;
      for (let j = 0; j < W; j++) acc = f(acc + f(w[c * W + j] * seen[seen.length - W + j]));
      y[t * C + c] = f(acc + b[c]);
    }
    next.set(seen.slice(seen.length - (W - 1)), c * (W - 1));
  }
  return { y, next };
}

describe('conv1d', () => {
  for (const [T, C, W] of [[1, 4, 4], [1, 37, 4], [6, 13, 4], [64, 3328 / 16, 4], [3, 9, 3], [2, 5, 2]]) {
    it(`T=${T} C=${C} W=${W}: every output bit for bit, and the state`, () => {
      const rng = new Rng(T * 100 + C + W);
      const x = rng.f32(T * C), state = rng.f32(C * (W - 1)), w = rng.f32(C * W), b = rng.f32(C);
      x[0] = -0; // signed zeros take the same path too
      const sp = wasm.put(state), y = wasm.f32(T * C);
      wasm.k.conv1d(y, wasm.put(x), sp, wasm.put(w), wasm.put(b), T, C, W, C);
      const ref = conv(x, state, w, b, T, C, W);
      expect(wasm.read(y, T * C)).toEqual(ref.y);
      expect(wasm.read(sp, C * (W - 1))).toEqual(ref.next);
    });
  }
});
