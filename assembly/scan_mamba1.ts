// Mamba-1 selective scan: a diagonal linear recurrence per channel d, over the state size S.
//
//   dA = exp(dt[d] * A[d,:])
//   h[d,:] = dA * h[d,:] + B * (dt[d] * x[d])
//   y[d] = C · h[d,:] + Dskip[d] * x[d]
//
// Channels are independent, so each channel runs through all T tokens with its state row in cache.
// exp is exp4 (relative error < 1.5e-7; see exp.ts). SIMD runs over the state dimension; the S % 4
// tail does the same arithmetic on single lanes.
import { exp1, exp4 } from './exp';
import { hsum } from './simd';

/**
 * Channels d0 <= d < d1 of scan1 (for splitting channels between threads).
 * x, dt, y [T, channels]; A, h [channels, S]; Dskip [channels]; B, C rows of S, `bcStride` floats apart
 * (views of the x_proj output). h is read and updated.
 */
export function scan1_channels(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32, d0: i32, d1: i32): void {
  const rowBytes = <usize>S << 2;
  const bcRowBytes = <usize>bcStride << 2;
  for (let d = d0; d < d1; d++) {
    const hRow = h + <usize>d * rowBytes;
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
      let n = 0;
      for (; n + 4 <= S; n += 4) {
        const o = <usize>n << 2;
        const dA = exp4(f32x4.mul(f32x4.splat(dtv), load<v128>(aRow + o)));
        const hv = f32x4.add(f32x4.mul(dA, load<v128>(hRow + o)), f32x4.mul(load<v128>(bRow + o), f32x4.splat(dtx)));
        store<v128>(hRow + o, hv);
        acc = f32x4.add(acc, f32x4.mul(hv, load<v128>(cRow + o)));
      }
      let out = hsum(acc);
      for (; n < S; n++) {
        const o = <usize>n << 2;
        const dA = exp1(dtv * load<f32>(aRow + o));
        const hv = dA * load<f32>(hRow + o) + load<f32>(bRow + o) * dtx;
        store<f32>(hRow + o, hv);
        out += hv * load<f32>(cRow + o);
      }
      store<f32>(y + at, out + skip * xv);
    }
  }
}

/** All channels: see scan1_channels. T = 1 is one decoding step. */
export function scan1(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, channels: i32, S: i32, bcStride: i32): void {
  scan1_channels(y, x, dt, A, B, C, Dskip, h, T, channels, S, bcStride, 0, channels);
}
