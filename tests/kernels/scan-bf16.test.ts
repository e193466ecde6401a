// The scans with the SSM state stored as bf16 (LoadOptions.stateType = 'bf16'), which round the state
// once per call (assembly/state.ts), at awkward sizes:
// - token by token (T = 1, decoding): against a float64 reference that rounds the state to bf16 (to
//   nearest, ties away from zero) after every token. The kernels compute in f32, the reference in f64,
//   so a value within f32's error of a rounding boundary may round the other way: nearly every stored
//   value must equal the reference's bits, and none may be further than one bf16 step;
// - a sequence in one call (prefill): exactly the f32 scan over the widened state, its final state
//   rounded to bf16;
// - heads (channels) split in two ranges give the bits of one call.
import { beforeAll, describe, expect, it } from 'vitest';
import { normRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { scan1Data, scan1Ref, scan2Data, scan2Ref } from '../util/scan-reference.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
/** x rounded to bf16, nearest (ties away from zero), as its 16 bits. */
function toBf16(x: number): number {
  f32[0] = x;
  return ((u32[0] + 0x8000) >>> 16) & 0xffff;
}
function fromBf16(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}
const roundBf16 = (x: number) => fromBf16(toBf16(x));

function putBf16(values: ArrayLike<number>): number {
  return wasm.put(Uint16Array.from(values, toBf16));
}
function readBf16(ptr: number, n: number): Float32Array {
  const bits = new Uint16Array(wasm.core.heap.u8(ptr, 2 * n).slice().buffer);
  return Float32Array.from(bits, fromBf16);
}

/** The share of equal values, and whether every value is within one bf16 step (2^-8 relative) of the reference's. */
function compareState(got: Float32Array, want: Float64Array): { equal: number; withinStep: boolean } {
  let equal = 0, withinStep = true;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) equal++;
    else if (Math.abs(got[i] - want[i]) > 2 ** -8 * Math.abs(want[i]) * 1.0001) withinStep = false;
  }
  return { equal: equal / want.length, withinStep };
}

// ---- Mamba-2 ----

describe('scan2_heads_bf16', () => {
  // [T, H, P, N, G]: the 780M's head shape, the tiny fixture's, awkward sizes (N % 8 tails, P % 4 rows)
  for (const [T, H, P, N, G] of [[3, 2, 64, 128, 1], [7, 4, 32, 32, 1], [5, 6, 5, 13, 2], [9, 3, 7, 17, 3], [3, 8, 3, 6, 4], [2, 2, 1, 1, 1], [4, 2, 4, 12, 1]]) {
    it(`T=${T} H=${H} P=${P} N=${N} G=${G}: token by token as the bf16-rounding f64 reference; in one call the f32 scan rounded once; head ranges give the same bits`, () => {
      const rng = new Rng(T * 100000 + H * 1000 + P * 100 + N * 10 + G + 7);
      const p = scan2Data(rng, T, H, P, N, G, 0.1); // slow decays too, where rounding matters most
      const x = wasm.put(p.x), dt = wasm.put(p.dt), A = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const scratch = wasm.f32(H * P * N);
      const ref = scan2Ref(p, T, H, P, N, G, roundBf16);

      const hStep = putBf16(p.h), yStep = wasm.f32(H * P), ySteps = new Float32Array(T * H * P);
      for (let t = 0; t < T; t++) {
        wasm.k.scan2_heads_bf16(yStep, x + 4 * t * H * P, dt + 4 * t * H, A, B + 4 * t * G * N, C + 4 * t * G * N, Dskip, hStep, 1, H, P, N, G, H * P, G * N, scratch, 0, H);
        ySteps.set(wasm.read(yStep, H * P), t * H * P);
      }
      const { equal, withinStep } = compareState(readBf16(hStep, H * P * N), ref.h);
      expect(equal).toBeGreaterThan(0.99);
      expect(withinStep).toBe(true);
      expect(normRelError(ySteps, ref.y)).toBeLessThanOrEqual(1e-4);

      // several tokens in one call: the f32 kernel over the widened state, rounded at the end
      const h = putBf16(p.h), y = wasm.f32(T * H * P);
      wasm.k.scan2_heads_bf16(y, x, dt, A, B, C, Dskip, h, T, H, P, N, G, H * P, G * N, scratch, 0, H);
      if (T > 1) {
        const hF32 = wasm.put(Float32Array.from(p.h, roundBf16)), yF32 = wasm.f32(T * H * P);
        wasm.k.scan2_heads(yF32, x, dt, A, B, C, Dskip, hF32, T, H, P, N, G, H * P, G * N, 0, H);
        expect(wasm.read(y, T * H * P)).toEqual(wasm.read(yF32, T * H * P));
        expect(readBf16(h, H * P * N)).toEqual(Float32Array.from(wasm.read(hF32, H * P * N), roundBf16));
      }

      const hSplit = putBf16(p.h), ySplit = wasm.f32(T * H * P), half = H >> 1;
      wasm.k.scan2_heads_bf16(ySplit, x, dt, A, B, C, Dskip, hSplit, T, H, P, N, G, H * P, G * N, scratch, half, H);
      wasm.k.scan2_heads_bf16(ySplit, x, dt, A, B, C, Dskip, hSplit, T, H, P, N, G, H * P, G * N, scratch, 0, half);
      expect(wasm.read(ySplit, T * H * P)).toEqual(wasm.read(y, T * H * P));
      expect(readBf16(hSplit, H * P * N)).toEqual(readBf16(h, H * P * N));
    });
  }
});

// ---- Mamba-1 ----

describe('scan1_channels_bf16', () => {
  for (const [T, D, N] of [[1, 5, 16], [7, 16, 16], [13, 33, 13], [4, 3, 1], [9, 8, 6], [33, 4, 37]]) {
    it(`T=${T} D=${D} N=${N}: token by token as the bf16-rounding f64 reference; in one call the f32 scan rounded once; channel ranges give the same bits`, () => {
      const rng = new Rng(T * 10000 + D * 100 + N + 7);
      const p = scan1Data(rng, T, D, N);
      const x = wasm.put(p.x), dt = wasm.put(p.dt), Ap = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const scratch = wasm.f32(D * N);
      const ref = scan1Ref(p, T, D, N, roundBf16);

      const hStep = putBf16(p.h), yStep = wasm.f32(D), ySteps = new Float32Array(T * D);
      for (let t = 0; t < T; t++) {
        wasm.k.scan1_channels_bf16(yStep, x + 4 * t * D, dt + 4 * t * D, Ap, B + 4 * t * N, C + 4 * t * N, Dskip, hStep, 1, D, N, N, scratch, 0, D);
        ySteps.set(wasm.read(yStep, D), t * D);
      }
      const { equal, withinStep } = compareState(readBf16(hStep, D * N), ref.h);
      expect(equal).toBeGreaterThan(0.99);
      expect(withinStep).toBe(true);
      expect(normRelError(ySteps, ref.y)).toBeLessThanOrEqual(1e-4);

      const h = putBf16(p.h), y = wasm.f32(T * D);
      wasm.k.scan1_channels_bf16(y, x, dt, Ap, B, C, Dskip, h, T, D, N, N, scratch, 0, D);
      if (T > 1) {
        const hF32 = wasm.put(Float32Array.from(p.h, roundBf16)), yF32 = wasm.f32(T * D);
        wasm.k.scan1_channels(yF32, x, dt, Ap, B, C, Dskip, hF32, T, D, N, N, 0, D);
        expect(wasm.read(y, T * D)).toEqual(wasm.read(yF32, T * D));
        expect(readBf16(h, D * N)).toEqual(Float32Array.from(wasm.read(hF32, D * N), roundBf16));
      }

      const hSplit = putBf16(p.h), ySplit = wasm.f32(T * D), half = D >> 1;
      wasm.k.scan1_channels_bf16(ySplit, x, dt, Ap, B, C, Dskip, hSplit, T, D, N, N, scratch, half, D);
      wasm.k.scan1_channels_bf16(ySplit, x, dt, Ap, B, C, Dskip, hSplit, T, D, N, N, scratch, 0, half);
      expect(wasm.read(ySplit, T * D)).toEqual(wasm.read(y, T * D));
      expect(readBf16(hSplit, D * N)).toEqual(readBf16(h, D * N));
    });
  }
});
