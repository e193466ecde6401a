// The range forms of the kernels that threads split (matmul rows, scan heads and channels, conv
// channels, gated-norm tokens): computing the range in pieces, in any order, gives the same bits as the
// whole call.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomQ4 } from '../util/q4.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** Cut [0, count) at the given points and run the pieces last first. */
function inPieces(count: number, cuts: number[], run: (a: number, b: number) => void): void {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < count), count];
  for (let i = bounds.length - 2; i >= 0; i--) run(bounds[i], bounds[i + 1]);
}

describe('matmul row ranges', () => {
  for (const [T, N, K] of [[1, 13, 37], [3, 9, 100], [2, 33, 8]]) {
    it(`f32, f16 and int8 rows in pieces equal the whole (T=${T} N=${N} K=${K})`, () => {
      const rng = new Rng(T * 1000 + N * 10 + K);
      const x = wasm.put(rng.f32(T * K));
      const wf = wasm.put(rng.f32(N * K));
      const halves = new Uint16Array(N * K).map(() => rng.int(0, 0x7bff) | (rng.next() < 0.5 ? 0x8000 : 0));
      const wh = wasm.put(halves);
      const wi = wasm.put(new Int8Array(N * K).map(() => rng.int(-128, 128)));
      const scale = wasm.put(rng.f32(N, () => rng.uniform(0.01, 0.1)));
      const cuts = [5, 8, 11];
      const whole = wasm.f32(T * N), parts = wasm.f32(T * N);

      wasm.k.matmul_f32(whole, x, wf, T, N, K, K);
      inPieces(N, cuts, (a, b) => wasm.k.f32_rows(parts, x, wf, T, N, K, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));

      wasm.k.matmul_f16(whole, x, wh, T, N, K, K);
      inPieces(N, cuts, (a, b) => wasm.k.f16_rows(parts, x, wh, T, N, K, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));

      wasm.k.matmul_i8(whole, x, wi, scale, T, N, K, K);
      inPieces(N, cuts, (a, b) => wasm.k.i8_rows(parts, x, wi, scale, T, N, K, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));

      const q = wasm.alloc(wasm.k.i8_fast_scratch_bytes(K, T));
      wasm.k.i8_fast_gemm(whole, x, wi, scale, T, N, K, K, q);
      inPieces(N, [4, 8], (a, b) => wasm.k.i8_fast_rows(parts, q, wi, scale, T, N, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));

      // 4-bit: cuts that are not multiples of 4 too, so rows go through both the 4-row and the 1-row loop
      const q4 = randomQ4(rng, N, K);
      const w4 = wasm.put(q4.packed), s4 = wasm.put(q4.scale);
      wasm.k.matmul_q4(whole, x, w4, s4, T, N, K, K);
      inPieces(N, cuts, (a, b) => wasm.k.q4_rows(parts, x, w4, s4, T, N, K, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));

      wasm.k.q4_fast_gemm(whole, x, w4, s4, T, N, K, K, q);
      inPieces(N, cuts, (a, b) => wasm.k.q4_fast_rows(parts, q, w4, s4, T, N, K, a, b));
      expect(wasm.read(parts, T * N)).toEqual(wasm.read(whole, T * N));
    });
  }
});

describe('scan ranges', () => {
  it('scan2_heads over pieces of the heads equals scan2 (H=6, P=5, S=13, G=2, T=4)', () => {
    const rng = new Rng(21);
    const T = 4, H = 6, P = 5, N = 13, G = 2;
    const x = wasm.put(rng.f32(T * H * P));
    const dt = wasm.put(rng.f32(T * H, () => rng.uniform(0.001, 0.2)));
    const A = wasm.put(rng.f32(H, () => -rng.uniform(0.5, 8)));
    const B = wasm.put(rng.f32(T * G * N)), C = wasm.put(rng.f32(T * G * N));
    const D = wasm.put(rng.f32(H));
    const h0 = rng.f32(H * P * N);
    const hWhole = wasm.put(h0), hParts = wasm.put(h0);
    const yWhole = wasm.f32(T * H * P), yParts = wasm.f32(T * H * P);
    wasm.k.scan2(yWhole, x, dt, A, B, C, D, hWhole, T, H, P, N, G, H * P, G * N);
    inPieces(H, [1, 4], (a, b) => wasm.k.scan2_heads(yParts, x, dt, A, B, C, D, hParts, T, H, P, N, G, H * P, G * N, a, b));
    expect(wasm.read(yParts, T * H * P)).toEqual(wasm.read(yWhole, T * H * P));
    expect(wasm.read(hParts, H * P * N)).toEqual(wasm.read(hWhole, H * P * N));
  });

  it('scan1_channels over pieces of the channels equals scan1 (D=11, N=6, T=3)', () => {
    const rng = new Rng(22);
    const T = 3, D = 11, N = 6;
    const x = wasm.put(rng.f32(T * D));
    const dt = wasm.put(rng.f32(T * D, () => rng.uniform(0.001, 0.2)));
    const A = wasm.put(rng.f32(D * N, () => -rng.uniform(0.5, 8)));
    const B = wasm.put(rng.f32(T * N)), C = wasm.put(rng.f32(T * N));
    const Dskip = wasm.put(rng.f32(D));
    const h0 = rng.f32(D * N);
    const hWhole = wasm.put(h0), hParts = wasm.put(h0);
    const yWhole = wasm.f32(T * D), yParts = wasm.f32(T * D);
    wasm.k.scan1(yWhole, x, dt, A, B, C, Dskip, hWhole, T, D, N, N);
    inPieces(D, [3, 4, 9], (a, b) => wasm.k.scan1_channels(yParts, x, dt, A, B, C, Dskip, hParts, T, D, N, N, a, b));
    expect(wasm.read(yParts, T * D)).toEqual(wasm.read(yWhole, T * D));
    expect(wasm.read(hParts, D * N)).toEqual(wasm.read(hWhole, D * N));
  });
});

describe('conv and gated-norm ranges', () => {
  for (const [T, channels, W] of [[1, 23, 4], [5, 16, 4], [3, 13, 3], [7, 9, 4]]) {
    it(`conv1d_channels over pieces of the channels equals conv1d, and with silu equals conv1d then silu (T=${T} channels=${channels} W=${W})`, () => {
      const rng = new Rng(T * 1000 + channels * 10 + W);
      const xStride = channels + 3; // a view, as of in_proj's output
      const x = wasm.put(rng.f32(T * xStride)), w = wasm.put(rng.f32(channels * W)), b = wasm.put(rng.f32(channels));
      const state0 = rng.f32(channels * (W - 1));
      const whole = wasm.f32(T * channels), sWhole = wasm.put(state0);
      wasm.k.conv1d(whole, x, sWhole, w, b, T, channels, W, xStride);
      for (const silu of [0, 1]) {
        const parts = wasm.f32(T * channels), sParts = wasm.put(state0);
        inPieces(channels, [4, 8, 20], (c0, c1) => wasm.k.conv1d_channels(parts, x, sParts, w, b, T, channels, W, xStride, silu, c0, c1));
        const want = wasm.f32(T * channels);
        if (silu) wasm.k.silu(want, whole, T * channels);
        else wasm.k.add(want, whole, wasm.f32(T * channels, 0), T * channels);
        expect(wasm.read(parts, T * channels)).toEqual(wasm.read(want, T * channels));
        expect(wasm.read(sParts, channels * (W - 1))).toEqual(wasm.read(sWhole, channels * (W - 1)));
      }
    });
  }

  it('gated_rmsnorm_tokens over pieces of the tokens equals gated_rmsnorm (T=7, width 24, groups of 8)', () => {
    const rng = new Rng(77);
    const T = 7, width = 24, groupSize = 8, zStride = 40;
    const x = rng.f32(T * width), z = wasm.put(rng.f32(T * zStride)), w = wasm.put(rng.f32(width));
    const whole = wasm.f32(T * width), parts = wasm.f32(T * width);
    wasm.k.gated_rmsnorm(whole, wasm.put(x), z, w, T, width, groupSize, 1e-5, zStride);
    const xp = wasm.put(x);
    inPieces(T, [2, 3, 6], (t0, t1) => wasm.k.gated_rmsnorm_tokens(parts, xp, z, w, T, width, groupSize, 1e-5, zStride, t0, t1));
    expect(wasm.read(parts, T * width)).toEqual(wasm.read(whole, T * width));
  });
});
