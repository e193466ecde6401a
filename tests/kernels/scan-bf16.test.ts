// The scans with the SSM state stored as bf16 (LoadOptions.stateType = 'bf16'): against a float64
// reference that rounds the state to bf16 (nearest, ties away from zero) after every token, as the
// kernels do. The kernels compute in f32, the reference in f64, so a value that lies within f32's error of a
// rounding boundary may round the other way: nearly every stored value must equal the reference's
// bits, and none may be further than one bf16 step. A sequence gives the bits of its tokens one by
// one, and heads (channels) split in two ranges give the bits of one call, at awkward sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import { normRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
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

function scan2Ref(p: Record<string, Float32Array>, T: number, H: number, P: number, N: number, G: number) {
  const h = Float64Array.from(p.h, roundBf16), y = new Float64Array(T * H * P);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H; i++) {
      const g = Math.floor(i / (H / G));
      const dt = p.dt[t * H + i], dA = Math.exp(dt * p.A[i]);
      for (let q = 0; q < P; q++) {
        const x = p.x[t * H * P + i * P + q];
        let s = 0;
        for (let n = 0; n < N; n++) {
          const k = (i * P + q) * N + n, bc = t * G * N + g * N + n;
          const v = dA * h[k] + dt * p.B[bc] * x;
          s += p.C[bc] * v; // y from the new state before rounding
          h[k] = roundBf16(v);
        }
        y[t * H * P + i * P + q] = s + p.Dskip[i] * x;
      }
    }
  }
  return { y, h };
}

describe('scan2_heads_bf16', () => {
  // [T, H, P, N, G]: the 780M's head shape, the tiny fixture's, awkward sizes (N % 8 tails, P % 4 rows)
  for (const [T, H, P, N, G] of [[3, 2, 64, 128, 1], [7, 4, 32, 32, 1], [5, 6, 5, 13, 2], [9, 3, 7, 17, 3], [3, 8, 3, 6, 4], [2, 2, 1, 1, 1], [4, 2, 4, 12, 1]]) {
    it(`T=${T} H=${H} P=${P} N=${N} G=${G}: state and y as the bf16-rounding f64 reference; steps and head ranges give the same bits`, () => {
      const rng = new Rng(T * 100000 + H * 1000 + P * 100 + N * 10 + G + 7);
      const p = {
        x: rng.f32(T * H * P), dt: rng.f32(T * H, () => rng.uniform(0.001, 0.3)), A: rng.f32(H, () => -rng.uniform(0.1, 16)),
        B: rng.f32(T * G * N), C: rng.f32(T * G * N), Dskip: rng.f32(H), h: rng.f32(H * P * N),
      };
      const x = wasm.put(p.x), dt = wasm.put(p.dt), A = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const h = putBf16(p.h), y = wasm.f32(T * H * P);
      wasm.k.scan2_heads_bf16(y, x, dt, A, B, C, Dskip, h, T, H, P, N, G, H * P, G * N, 0, H);
      const ref = scan2Ref(p, T, H, P, N, G);
      const yOut = wasm.read(y, T * H * P), hOut = readBf16(h, H * P * N);
      const { equal, withinStep } = compareState(hOut, ref.h);
      expect(equal).toBeGreaterThan(0.99);
      expect(withinStep).toBe(true);
      expect(normRelError(yOut, ref.y)).toBeLessThanOrEqual(1e-4);

      const hStep = putBf16(p.h), yStep = wasm.f32(H * P);
      for (let t = 0; t < T; t++) {
        wasm.k.scan2_heads_bf16(yStep, x + 4 * t * H * P, dt + 4 * t * H, A, B + 4 * t * G * N, C + 4 * t * G * N, Dskip, hStep, 1, H, P, N, G, H * P, G * N, 0, H);
        expect(wasm.read(yStep, H * P)).toEqual(yOut.subarray(t * H * P, (t + 1) * H * P));
      }
      expect(readBf16(hStep, H * P * N)).toEqual(hOut);

      const hSplit = putBf16(p.h), ySplit = wasm.f32(T * H * P), half = H >> 1;
      wasm.k.scan2_heads_bf16(ySplit, x, dt, A, B, C, Dskip, hSplit, T, H, P, N, G, H * P, G * N, half, H);
      wasm.k.scan2_heads_bf16(ySplit, x, dt, A, B, C, Dskip, hSplit, T, H, P, N, G, H * P, G * N, 0, half);
      expect(wasm.read(ySplit, T * H * P)).toEqual(yOut);
      expect(readBf16(hSplit, H * P * N)).toEqual(hOut);
    });
  }
});

// ---- Mamba-1 ----

function scan1Ref(p: Record<string, Float32Array>, T: number, D: number, N: number) {
  const h = Float64Array.from(p.h, roundBf16), y = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let d = 0; d < D; d++) {
      const dt = p.dt[t * D + d], x = p.x[t * D + d];
      let s = 0;
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        const v = Math.exp(dt * p.A[i]) * h[i] + dt * p.B[t * N + n] * x;
        s += p.C[t * N + n] * v;
        h[i] = roundBf16(v);
      }
      y[t * D + d] = s + p.Dskip[d] * x;
    }
  }
  return { y, h };
}

describe('scan1_channels_bf16', () => {
  for (const [T, D, N] of [[1, 5, 16], [7, 16, 16], [13, 33, 13], [4, 3, 1], [9, 8, 6], [33, 4, 37]]) {
    it(`T=${T} D=${D} N=${N}: state and y as the bf16-rounding f64 reference; steps and channel ranges give the same bits`, () => {
      const rng = new Rng(T * 10000 + D * 100 + N + 7);
      const A = new Float32Array(D * N);
      for (let d = 0; d < D; d++) for (let n = 0; n < N; n++) A[d * N + n] = -(n + 1) * rng.uniform(0.5, 1.5);
      const p = { x: rng.f32(T * D), dt: rng.f32(T * D, () => rng.uniform(0.001, 0.3)), A, B: rng.f32(T * N), C: rng.f32(T * N), Dskip: rng.f32(D), h: rng.f32(D * N) };
      const x = wasm.put(p.x), dt = wasm.put(p.dt), Ap = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const h = putBf16(p.h), y = wasm.f32(T * D);
      wasm.k.scan1_channels_bf16(y, x, dt, Ap, B, C, Dskip, h, T, D, N, N, 0, D);
      const ref = scan1Ref(p, T, D, N);
      const yOut = wasm.read(y, T * D), hOut = readBf16(h, D * N);
      const { equal, withinStep } = compareState(hOut, ref.h);
      expect(equal).toBeGreaterThan(0.99);
      expect(withinStep).toBe(true);
      expect(normRelError(yOut, ref.y)).toBeLessThanOrEqual(1e-4);

      const hStep = putBf16(p.h), yStep = wasm.f32(D);
      for (let t = 0; t < T; t++) {
        wasm.k.scan1_channels_bf16(yStep, x + 4 * t * D, dt + 4 * t * D, Ap, B + 4 * t * N, C + 4 * t * N, Dskip, hStep, 1, D, N, N, 0, D);
        expect(wasm.read(yStep, D)).toEqual(yOut.subarray(t * D, (t + 1) * D));
      }
      expect(readBf16(hStep, D * N)).toEqual(hOut);

      const hSplit = putBf16(p.h), ySplit = wasm.f32(T * D), half = D >> 1;
      wasm.k.scan1_channels_bf16(ySplit, x, dt, Ap, B, C, Dskip, hSplit, T, D, N, N, half, D);
      wasm.k.scan1_channels_bf16(ySplit, x, dt, Ap, B, C, Dskip, hSplit, T, D, N, N, 0, half);
      expect(wasm.read(ySplit, T * D)).toEqual(yOut);
      expect(readBf16(hSplit, D * N)).toEqual(hOut);
    });
  }
});
