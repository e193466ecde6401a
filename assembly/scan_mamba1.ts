// Mamba-1 selective scan: a diagonal linear recurrence per channel d, over the state size S.
//
//   dA = exp(dt[d] * A[d,:])
//   h[d,:] = dA * h[d,:] + B * (dt[d] * x[d])
//   y[d] = C · h[d,:] + Dskip[d] * x[d]
//
// Channels are independent, so each channel runs through all T tokens with its state row in cache.
// exp is exp4 (relative error < 1.5e-7; see exp.ts). SIMD runs over the state dimension; the S % 4
// tail does the same arithmetic on single lanes.
//
// The state is stored as f32 (scan1_channels) or bf16 (scan1_channels_bf16, state.ts), as in
// scan_mamba2.ts: f32 arithmetic, y from the unrounded state, the state rounded once per call.
import { exp1, exp4 } from './exp';
import { hsum } from './simd';
import { bf16Evens, bf16Odds, evens, loadState, narrowToBf16, odds, simdEnd, storeState, toBf16x8, widenBf16 } from './state';

/** Channels d0 <= d < d1, the state stored as Store (f32, or u16 for bf16). */
@inline function scanChannels<Store>(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32, d0: i32, d1: i32): void {
  const rowBytes = <usize>S << 2;
  const hRowBytes = <usize>S * sizeof<Store>();
  const bcRowBytes = <usize>bcStride << 2;
  for (let d = d0; d < d1; d++) {
    const hRow = h + <usize>d * hRowBytes;
    const aRow = A + <usize>d * rowBytes;
    const skip = load<f32>(Dskip + (<usize>d << 2));
    for (let t = 0; t < T; t++) {
      const at = (<usize>t * <usize>channels + <usize>d) << 2;
      const xv = load<f32>(x + at);
      const dtv = load<f32>(dt + at);
      const dtx = dtv * xv;
      const bRow = B + <usize>t * bcRowBytes;
      const cRow = C + <usize>t * bcRowBytes;
      let acc = f32x4.splat(0);
      if (sizeof<Store>() == 4) {
        for (let n = 0; n + 4 <= S; n += 4) {
          const o = <usize>n << 2;
          const dA = exp4(f32x4.mul(f32x4.splat(dtv), load<v128>(aRow + o)));
          const hv = f32x4.add(f32x4.mul(dA, load<v128>(hRow + o)), f32x4.mul(load<v128>(bRow + o), f32x4.splat(dtx)));
          store<v128>(hRow + o, hv);
          acc = f32x4.add(acc, f32x4.mul(hv, load<v128>(cRow + o)));
        }
      } else {
        // bf16: eight values a step, as their even and odd halves (state.ts)
        let ho: usize = 0;
        for (let n = 0; n + 8 <= S; n += 8, ho += 16) {
          const o = <usize>n << 2;
          const a0 = load<v128>(aRow + o), a1 = load<v128>(aRow + o, 16);
          const b0 = load<v128>(bRow + o), b1 = load<v128>(bRow + o, 16);
          const c0 = load<v128>(cRow + o), c1 = load<v128>(cRow + o, 16);
          const r = load<v128>(hRow + ho);
          const dAe = exp4(f32x4.mul(f32x4.splat(dtv), evens(a0, a1))), dAo = exp4(f32x4.mul(f32x4.splat(dtv), odds(a0, a1)));
          const he = f32x4.add(f32x4.mul(dAe, bf16Evens(r)), f32x4.mul(evens(b0, b1), f32x4.splat(dtx)));
          const hod = f32x4.add(f32x4.mul(dAo, bf16Odds(r)), f32x4.mul(odds(b0, b1), f32x4.splat(dtx)));
          store<v128>(hRow + ho, toBf16x8(he, hod));
          acc = f32x4.add(f32x4.add(acc, f32x4.mul(he, evens(c0, c1))), f32x4.mul(hod, odds(c0, c1)));
        }
      }
      let out = hsum(acc);
      for (let n = simdEnd<Store>(S); n < S; n++) {
        const o = <usize>n << 2;
        const ho = <usize>n * sizeof<Store>();
        const dA = exp1(dtv * load<f32>(aRow + o));
        const hv = dA * loadState<Store>(hRow + ho) + load<f32>(bRow + o) * dtx;
        storeState<Store>(hRow + ho, hv);
        out += hv * load<f32>(cRow + o);
      }
      store<f32>(y + at, out + skip * xv);
    }
  }
}

/**
 * Channels d0 <= d < d1 of scan1 (for splitting channels between threads).
 * x, dt, y [T, channels]; A, h [channels, S]; Dskip [channels]; B, C rows of S, `bcStride` floats apart
 * (views of the x_proj output). h is read and updated.
 */
export function scan1_channels(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32, d0: i32, d1: i32): void {
  scanChannels<f32>(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, d0, d1);
}

/**
 * scan1_channels with the state h [channels, S] stored as bf16, rounded once per call (state.ts): one
 * token runs the bf16 loop; more widen the channels' state into its place in `scratch` ([channels, S]
 * f32), run the f32 loop there and round back at the end.
 */
export function scan1_channels_bf16(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32, scratch: usize, d0: i32, d1: i32): void {
  if (T == 1) {
    scanChannels<u16>(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, d0, d1);
    return;
  }
  const first = <usize>d0 * <usize>S, n = (d1 - d0) * S;
  widenBf16(scratch + (first << 2), h + (first << 1), n);
  scanChannels<f32>(y, x, dt, A, B, C, Dskip, scratch, T, channels, S, bcStride, d0, d1);
  narrowToBf16(h + (first << 1), scratch + (first << 2), n);
}

/** All channels: see scan1_channels. T = 1 is one decoding step. */
export function scan1(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32): void {
  scan1_channels(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, 0, channels);
}
