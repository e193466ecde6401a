// ssd2_heads (Mamba-2's heads between the projections in one call: conv of the heads' x channels,
// time step, scan) against the kernels it fuses run one after another, bit for bit, and against a
// plain float64 reference, at awkward sizes: P not a multiple of 4, conv widths 4 and 3, several
// groups, xBC and dt as views of a wider projection row, heads computed in pieces in any order.
import { beforeAll, describe, expect, it } from 'vitest';
import { normRelError } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { scan2Ref } from '../util/scan-reference.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

const TOLERANCE = 1e-5; // relative to the largest |value| of each output

const silu = (v: number) => v / (1 + Math.exp(-v));
const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));

/** One case's inputs: a projection row [T, z | xBC | dt | pad], the conv's weights and state, the scan's. */
function caseData(rng: Rng, T: number, H: number, P: number, S: number, G: number, W: number) {
  const convDim = H * P + 2 * G * S;
  const zWidth = 3, inStride = zWidth + convDim + H + 2;
  return {
    convDim, zWidth, inStride,
    proj: rng.f32(T * inStride, () => rng.uniform(-2, 2)),
    convW: rng.f32(convDim * W, () => rng.uniform(-0.5, 0.5)), convB: rng.f32(convDim, () => rng.uniform(-0.2, 0.2)),
    convState: rng.f32(convDim * (W - 1)),
    dtBias: rng.f32(H, () => rng.uniform(-4, -1)), A: rng.f32(H, () => -rng.uniform(1, 16)), Dskip: rng.f32(H), h: rng.f32(H * P * S),
  };
}

/** The whole layer's heads in float64: conv + silu, clamped softplus, then the scan (scan2Ref). */
function reference(d: ReturnType<typeof caseData>, T: number, H: number, P: number, S: number, G: number, W: number, lo: number, hi: number) {
  const { convDim, zWidth, inStride } = d;
  const conv = new Float32Array(T * convDim), dt = new Float32Array(T * H);
  const input = (s: number, c: number) => (s >= 0 ? d.proj[s * inStride + zWidth + c] : d.convState[c * (W - 1) + W - 1 + s]);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < convDim; c++) {
      let acc = 0;
      for (let j = 0; j < W; j++) acc += d.convW[c * W + j] * input(t - (W - 1) + j, c);
      conv[t * convDim + c] = silu(acc + d.convB[c]);
    }
    for (let i = 0; i < H; i++) dt[t * H + i] = Math.min(Math.max(softplus(d.proj[t * inStride + zWidth + convDim + i] + d.dtBias[i]), lo), hi);
  }
  const x = new Float32Array(T * H * P), B = new Float32Array(T * G * S), C = new Float32Array(T * G * S);
  for (let t = 0; t < T; t++) {
    x.set(conv.subarray(t * convDim, t * convDim + H * P), t * H * P);
    B.set(conv.subarray(t * convDim + H * P, t * convDim + H * P + G * S), t * G * S);
    C.set(conv.subarray(t * convDim + H * P + G * S, (t + 1) * convDim), t * G * S);
  }
  const state = new Float32Array(convDim * (W - 1));
  for (let c = 0; c < convDim; c++) for (let j = 0; j < W - 1; j++) state[c * (W - 1) + j] = input(T - (W - 1) + j, c);
  return { conv, dt, state, ...scan2Ref({ x, dt, A: d.A, B, C, Dskip: d.Dskip, h: d.h }, T, H, P, S, G) };
}

describe('ssd2_heads', () => {
  for (const [T, H, P, S, G, W] of [[1, 5, 6, 7, 1, 4], [3, 6, 5, 9, 2, 4], [4, 4, 8, 16, 2, 3], [2, 6, 3, 5, 3, 4], [7, 3, 4, 4, 1, 4]]) {
    it(`T=${T} H=${H} P=${P} S=${S} G=${G} W=${W}: the bits of conv1d, dt_softplus and scan2 one after another; within ${TOLERANCE} of f64`, () => {
      const rng = new Rng(T * 100000 + H * 1000 + P * 100 + S * 10 + G + W);
      const d = caseData(rng, T, H, P, S, G, W);
      const { convDim, zWidth, inStride } = d;
      const [lo, hi] = [0.001, 0.2];
      const proj = wasm.put(d.proj), xBC = proj + 4 * zWidth, dtIn = xBC + 4 * convDim;
      const convW = wasm.put(d.convW), convB = wasm.put(d.convB), dtBias = wasm.put(d.dtBias), A = wasm.put(d.A), Dskip = wasm.put(d.Dskip);

      // unfused: the kernels the graph ran before, one after another
      const convA = wasm.f32(T * convDim), dtA = wasm.f32(T * H), yA = wasm.f32(T * H * P);
      const stateA = wasm.put(d.convState), hA = wasm.put(d.h);
      wasm.k.conv1d_channels(convA, xBC, stateA, convW, convB, T, convDim, W, inStride, 1, 0, convDim);
      wasm.k.dt_softplus(dtA, dtIn, dtBias, T, H, inStride, lo, hi);
      wasm.k.scan2_heads(yA, convA, dtA, A, convA + 4 * H * P, convA + 4 * (H * P + G * S), Dskip, hA, T, H, P, S, G, convDim, convDim, 0, H);

      // fused: the B and C channels' conv first (the calling thread's part), then the heads in pieces, last first
      const convF = wasm.f32(T * convDim), dtF = wasm.f32(T * H), yF = wasm.f32(T * H * P);
      const stateF = wasm.put(d.convState), hF = wasm.put(d.h);
      wasm.k.conv1d_channels(convF, xBC, stateF, convW, convB, T, convDim, W, inStride, 1, H * P, convDim);
      const cuts = [0, 1, Math.ceil(H / 2), H];
      for (let k = cuts.length - 2; k >= 0; k--) {
        wasm.k.ssd2_heads(yF, convF, xBC, stateF, convW, convB, dtF, dtIn, dtBias, A, Dskip, hF, T, H, P, S, G, W, inStride, lo, hi, cuts[k], cuts[k + 1]);
      }
      expect(wasm.read(yF, T * H * P)).toEqual(wasm.read(yA, T * H * P));
      expect(wasm.read(convF, T * convDim)).toEqual(wasm.read(convA, T * convDim));
      expect(wasm.read(dtF, T * H)).toEqual(wasm.read(dtA, T * H));
      expect(wasm.read(stateF, convDim * (W - 1))).toEqual(wasm.read(stateA, convDim * (W - 1)));
      expect(wasm.read(hF, H * P * S)).toEqual(wasm.read(hA, H * P * S));

      const ref = reference(d, T, H, P, S, G, W, lo, hi);
      expect(normRelError(wasm.read(convF, T * convDim), ref.conv)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(wasm.read(dtF, T * H), ref.dt)).toBeLessThanOrEqual(TOLERANCE);
      expect(wasm.read(stateF, convDim * (W - 1))).toEqual(ref.state); // the window is copied, not computed
      expect(normRelError(wasm.read(yF, T * H * P), ref.y)).toBeLessThanOrEqual(TOLERANCE);
      expect(normRelError(wasm.read(hF, H * P * S), ref.h)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('the bf16 state: ssd2_heads_bf16 gives the bits of conv1d, dt_softplus and scan2_heads_bf16, at T=1 and T=5', () => {
    for (const T of [1, 5]) {
      const [H, P, S, G, W] = [6, 5, 9, 2, 4];
      const rng = new Rng(777 + T);
      const d = caseData(rng, T, H, P, S, G, W);
      const { convDim, zWidth, inStride } = d;
      const proj = wasm.put(d.proj), xBC = proj + 4 * zWidth, dtIn = xBC + 4 * convDim;
      const convW = wasm.put(d.convW), convB = wasm.put(d.convB), dtBias = wasm.put(d.dtBias), A = wasm.put(d.A), Dskip = wasm.put(d.Dskip);
      const hBf16 = new Uint16Array(H * P * S).map(() => rng.int(0x3c00, 0x3f80) | (rng.next() < 0.5 ? 0x8000 : 0));
      const scratch = wasm.f32(H * P * S);
      const convA = wasm.f32(T * convDim), dtA = wasm.f32(T * H), yA = wasm.f32(T * H * P), stateA = wasm.put(d.convState), hA = wasm.put(hBf16);
      wasm.k.conv1d_channels(convA, xBC, stateA, convW, convB, T, convDim, W, inStride, 1, 0, convDim);
      wasm.k.dt_softplus(dtA, dtIn, dtBias, T, H, inStride, 0, Infinity);
      wasm.k.scan2_heads_bf16(yA, convA, dtA, A, convA + 4 * H * P, convA + 4 * (H * P + G * S), Dskip, hA, T, H, P, S, G, convDim, convDim, scratch, 0, H);
      const convF = wasm.f32(T * convDim), dtF = wasm.f32(T * H), yF = wasm.f32(T * H * P), stateF = wasm.put(d.convState), hF = wasm.put(hBf16);
      wasm.k.conv1d_channels(convF, xBC, stateF, convW, convB, T, convDim, W, inStride, 1, H * P, convDim);
      wasm.k.ssd2_heads_bf16(yF, convF, xBC, stateF, convW, convB, dtF, dtIn, dtBias, A, Dskip, hF, T, H, P, S, G, W, inStride, 0, Infinity, scratch, 4, H);
      wasm.k.ssd2_heads_bf16(yF, convF, xBC, stateF, convW, convB, dtF, dtIn, dtBias, A, Dskip, hF, T, H, P, S, G, W, inStride, 0, Infinity, scratch, 0, 4);
      expect(wasm.read(yF, T * H * P)).toEqual(wasm.read(yA, T * H * P));
      expect(wasm.read(convF, T * convDim)).toEqual(wasm.read(convA, T * convDim));
      expect(wasm.read(stateF, convDim * (W - 1))).toEqual(wasm.read(stateA, convDim * (W - 1)));
      expect(wasm.core.heap.u8(hF, 2 * H * P * S).slice()).toEqual(wasm.core.heap.u8(hA, 2 * H * P * S).slice());
    }
  });
});
