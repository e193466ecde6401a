// Mamba-2 (SSD) recurrence, one token at a time: per head i a scalar decay, per (head, channel p) a
// state row over N.
//
//   dA = exp(dt[i] * A[i])
//   h[i,p,:] = dA * h[i,p,:] + B[g,:] * (dt[i] * x[i,p])
//   y[i,p] = C[g,:] · h[i,p,:] + Dskip[i] * x[i,p],    g = i / (H / G)
//
// Each state row runs through all T tokens while it is in cache. exp is exp1 (relative error
// < 1.5e-7; see exp.ts). SIMD runs over the state dimension; the N % 4 tail is scalar f32.
import { exp1 } from './exp';
import { hsum } from './simd';

/** One state row through T tokens. xs, ys step by `xStride` bytes per token, bs, cs by `bcStride`, dts by `dtStride`. */
@inline function scanRow(
  ys: usize, xs: usize, xStride: usize, dts: usize, dtStride: usize, a: f32,
  bs: usize, cs: usize, bcStride: usize, skip: f32, hRow: usize, T: i32, N: i32,
): void {
  for (let t = 0; t < T; t++) {
    const xv = load<f32>(xs + <usize>t * xStride);
    const dtv = load<f32>(dts + <usize>t * dtStride);
    const dA = exp1(dtv * a);
    const dtx = dtv * xv;
    const bRow = bs + <usize>t * bcStride;
    const cRow = cs + <usize>t * bcStride;
    const dAv = f32x4.splat(dA), dtxv = f32x4.splat(dtx);
    let acc = f32x4.splat(0);
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const o = <usize>n << 2;
      const hv = f32x4.add(f32x4.mul(dAv, load<v128>(hRow + o)), f32x4.mul(load<v128>(bRow + o), dtxv));
      store<v128>(hRow + o, hv);
      acc = f32x4.add(acc, f32x4.mul(hv, load<v128>(cRow + o)));
    }
    let out = hsum(acc);
    for (; n < N; n++) {
      const o = <usize>n << 2;
      const hv = dA * load<f32>(hRow + o) + load<f32>(bRow + o) * dtx;
      store<f32>(hRow + o, hv);
      out += hv * load<f32>(cRow + o);
    }
    store<f32>(ys + <usize>t * xStride, out + skip * xv);
  }
}

/** x, y [T, H*P]; dt [T, H]; A, Dskip [H]; B, C [T, G*N]; h [H, P, N], read and updated. */
export function scan2_seq(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, N: i32, G: i32): void {
  const headsPerGroup = H / G;
  const xStride = <usize>(H * P) << 2;
  const dtStride = <usize>H << 2;
  const bcStride = <usize>(G * N) << 2;
  for (let i = 0; i < H; i++) {
    const g = i / headsPerGroup;
    const a = load<f32>(A + (<usize>i << 2));
    const skip = load<f32>(Dskip + (<usize>i << 2));
    const groupOffset = <usize>(g * N) << 2;
    for (let p = 0; p < P; p++) {
      const channel = <usize>(i * P + p) << 2;
      const hRow = h + (<usize>(i * P + p) * <usize>N << 2);
      scanRow(y + channel, x + channel, xStride, dt + (<usize>i << 2), dtStride, a,
        B + groupOffset, C + groupOffset, bcStride, skip, hRow, T, N);
    }
  }
}

/** One token: x, y [H*P]; dt [H]; B, C [G*N]. */
export function scan2_step(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, H: i32, P: i32, N: i32, G: i32): void {
  scan2_seq(y, x, dt, A, B, C, Dskip, h, 1, H, P, N, G);
}
