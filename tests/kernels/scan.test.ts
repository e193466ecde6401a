// Mamba-1 and Mamba-2 recurrences against float64 references: outputs, final state, and
// sequence-versus-steps consistency, from a random (non-zero) initial state; and the same inputs
// read as strided views of wider buffers (as the graph passes them), within the same bounds and bits.
import { beforeAll, describe, expect, it } from 'vitest';
import { normRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { scan1Data, scan1Ref, scan2Data, scan2Ref } from '../util/scan-reference.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const TOLERANCE = 1e-5; // relative to the largest |value| of each output (y, h)

// ---- Mamba-1 ----

describe('scan1', () => {
  for (const [T, D, N] of [[1, 5, 16], [7, 16, 16], [13, 33, 13], [4, 3, 1], [9, 8, 6], [33, 4, 37]]) {
    it(`T=${T} D=${D} N=${N}: y and final h within ${TOLERANCE} of f64; T steps give the same bits`, () => {
      const rng = new Rng(T * 10000 + D * 100 + N);
      const p = scan1Data(rng, T, D, N);
      const x = wasm.put(p.x), dt = wasm.put(p.dt), A = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const h = wasm.put(p.h), y = wasm.f32(T * D);
      wasm.k.scan1(y, x, dt, A, B, C, Dskip, h, T, D, N, N);
      const ref = scan1Ref(p, T, D, N);
      const yOut = wasm.read(y, T * D), hOut = wasm.read(h, D * N);
      expect(normRelError(yOut, ref.y)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(hOut, ref.h)).toBeLessThanOrEqual(TOLERANCE);

      const hStep = wasm.put(p.h), yStep = wasm.f32(D);
      for (let t = 0; t < T; t++) {
        wasm.k.scan1(yStep, x + 4 * t * D, dt + 4 * t * D, A, B + 4 * t * N, C + 4 * t * N, Dskip, hStep, 1, D, N, N);
        expect(wasm.read(yStep, D)).toEqual(yOut.subarray(t * D, (t + 1) * D));
      }
      expect(wasm.read(hStep, D * N)).toEqual(hOut);
    });

    it(`T=${T} D=${D} N=${N}: B and C as views of [T, dt_rank | B | C] rows: within ${TOLERANCE} of f64, the same bits`, () => {
      const rng = new Rng(T * 10000 + D * 100 + N);
      const p = scan1Data(rng, T, D, N);
      const rank = 3, stride = rank + 2 * N;
      const B = wasm.putStrided(p.B, N, stride, rank), C = wasm.putStrided(p.C, N, stride, rank + N);
      const h = wasm.put(p.h), y = wasm.f32(T * D);
      wasm.k.scan1(y, wasm.put(p.x), wasm.put(p.dt), wasm.put(p.A), B, C, wasm.put(p.Dskip), h, T, D, N, stride);
      const ref = scan1Ref(p, T, D, N);
      expect(normRelError(wasm.read(y, T * D), ref.y)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(wasm.read(h, D * N), ref.h)).toBeLessThanOrEqual(TOLERANCE);
      const hc = wasm.put(p.h), yc = wasm.f32(T * D);
      wasm.k.scan1(yc, wasm.put(p.x), wasm.put(p.dt), wasm.put(p.A), wasm.put(p.B), wasm.put(p.C), wasm.put(p.Dskip), hc, T, D, N, N);
      expect(wasm.read(y, T * D)).toEqual(wasm.read(yc, T * D));
    });
  }
});

// ---- Mamba-2 ----

describe('scan2', () => {
  // [T, H, P, N, G]: the tiny fixture's shape, awkward sizes, several groups, and N % 4 tails
  for (const [T, H, P, N, G] of [[1, 4, 32, 32, 1], [7, 4, 32, 32, 1], [5, 6, 5, 13, 2], [9, 3, 7, 17, 3], [3, 8, 3, 6, 4], [2, 2, 1, 1, 1]]) {
    it(`T=${T} H=${H} P=${P} N=${N} G=${G}: y and final h within ${TOLERANCE} of f64; T steps give the same bits`, () => {
      const rng = new Rng(T * 100000 + H * 1000 + P * 100 + N * 10 + G);
      const p = scan2Data(rng, T, H, P, N, G);
      const x = wasm.put(p.x), dt = wasm.put(p.dt), A = wasm.put(p.A), B = wasm.put(p.B), C = wasm.put(p.C), Dskip = wasm.put(p.Dskip);
      const h = wasm.put(p.h), y = wasm.f32(T * H * P);
      wasm.k.scan2(y, x, dt, A, B, C, Dskip, h, T, H, P, N, G, H * P, G * N);
      const ref = scan2Ref(p, T, H, P, N, G);
      const yOut = wasm.read(y, T * H * P), hOut = wasm.read(h, H * P * N);
      expect(normRelError(yOut, ref.y)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(hOut, ref.h)).toBeLessThanOrEqual(TOLERANCE);

      const hStep = wasm.put(p.h), yStep = wasm.f32(H * P);
      for (let t = 0; t < T; t++) {
        wasm.k.scan2(yStep, x + 4 * t * H * P, dt + 4 * t * H, A, B + 4 * t * G * N, C + 4 * t * G * N, Dskip, hStep, 1, H, P, N, G, H * P, G * N);
        expect(wasm.read(yStep, H * P)).toEqual(yOut.subarray(t * H * P, (t + 1) * H * P));
      }
      expect(wasm.read(hStep, H * P * N)).toEqual(hOut);
    });

    it(`T=${T} H=${H} P=${P} N=${N} G=${G}: x, B, C as views of [T, x | B | C] rows: within ${TOLERANCE} of f64, the same bits`, () => {
      const rng = new Rng(T * 100000 + H * 1000 + P * 100 + N * 10 + G);
      const p = scan2Data(rng, T, H, P, N, G);
      const stride = H * P + 2 * G * N + 1; // one column more than x | B | C, so that rows are not 16-byte aligned
      const x = wasm.putStrided(p.x, H * P, stride, 0);
      const B = wasm.putStrided(p.B, G * N, stride, H * P), C = wasm.putStrided(p.C, G * N, stride, H * P + G * N);
      const h = wasm.put(p.h), y = wasm.f32(T * H * P);
      wasm.k.scan2(y, x, wasm.put(p.dt), wasm.put(p.A), B, C, wasm.put(p.Dskip), h, T, H, P, N, G, stride, stride);
      const ref = scan2Ref(p, T, H, P, N, G);
      expect(normRelError(wasm.read(y, T * H * P), ref.y)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(wasm.read(h, H * P * N), ref.h)).toBeLessThanOrEqual(TOLERANCE);
      const hc = wasm.put(p.h), yc = wasm.f32(T * H * P);
      wasm.k.scan2(yc, wasm.put(p.x), wasm.put(p.dt), wasm.put(p.A), wasm.put(p.B), wasm.put(p.C), wasm.put(p.Dskip), hc, T, H, P, N, G, H * P, G * N);
      expect(wasm.read(y, T * H * P)).toEqual(wasm.read(yc, T * H * P));
      expect(wasm.read(h, H * P * N)).toEqual(wasm.read(hc, H * P * N));
    });
  }

  it('decays the state by exp(dt*A) when x = 0 (h_t = exp(dt*A)^t h_0)', () => {
    const H = 3, P = 2, N = 5, G = 1, T = 4;
    const rng = new Rng(5);
    const p = scan2Data(rng, T, H, P, N, G);
    p.x.fill(0);
    p.dt.fill(0.25);
    const h = wasm.put(p.h), y = wasm.f32(T * H * P);
    wasm.k.scan2(y, wasm.put(p.x), wasm.put(p.dt), wasm.put(p.A), wasm.put(p.B), wasm.put(p.C), wasm.put(p.Dskip), h, T, H, P, N, G, H * P, G * N);
    const want = Array.from(p.h, (v, k) => v * Math.exp(T * 0.25 * p.A[Math.floor(k / (P * N))]));
    expect(normRelError(wasm.read(h, H * P * N), want)).toBeLessThanOrEqual(1e-6);
  });
});
