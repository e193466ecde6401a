// Mamba-2 (SSD) recurrence, one token at a time: per head i a scalar decay, per (head, channel p) a
// state row over S (d_state).
//
//   dA = exp(dt[i] * A[i])
//   h[i,p,:] = dA * h[i,p,:] + B[g,:] * (dt[i] * x[i,p])
//   y[i,p] = C[g,:] · h[i,p,:] + Dskip[i] * x[i,p],    g = i / (H / G)
//
// A head's P state rows (P*S f32, 32 KiB for the usual 64 x 128) stay in cache while the head runs
// through all T tokens. Per token, dA is computed once for the head (exp1: relative error < 1.5e-7,
// see exp.ts), and four rows at a time share each load of B and C; every row keeps its own running
// sum, in the same order as a row done alone, so the result does not depend on how rows are grouped.
// SIMD runs over the state dimension; the S % 4 tail is scalar f32 (rowTail).
import { exp1 } from './exp';
import { hsum } from './simd';

/** The scalar tail (n from S & ~3) of one row, continuing from the SIMD sum `out`. */
@inline function rowTail(hRow: usize, bRow: usize, cRow: usize, dA: f32, dtx: f32, S: i32, out: f32): f32 {
  for (let n = S & ~3; n < S; n++) {
    const o = <usize>n << 2;
    const hv = dA * load<f32>(hRow + o) + load<f32>(bRow + o) * dtx;
    store<f32>(hRow + o, hv);
    out += hv * load<f32>(cRow + o);
  }
  return out;
}

/**
 * Heads i0 <= i < i1 of scan2 (for splitting heads between threads).
 * y [T, H*P]; x rows of H*P, `xStride` floats apart; B, C rows of G*S, `bcStride` floats apart (x, B
 * and C are views of the conv output `[T, x | B | C]`); dt [T, H]; A, Dskip [H]; h [H, P, S], read and
 * updated.
 */
export function scan2_heads(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32, i0: i32, i1: i32): void {
  const headsPerGroup = H / G;
  const xRowBytes = <usize>xStride << 2;
  const yRowBytes = <usize>(H * P) << 2;
  const bcRowBytes = <usize>bcStride << 2;
  const rowBytes = <usize>S << 2;
  for (let i = i0; i < i1; i++) {
    const a = load<f32>(A + (<usize>i << 2));
    const skip = load<f32>(Dskip + (<usize>i << 2));
    const groupOffset = <usize>((i / headsPerGroup) * S) << 2;
    const hHead = h + <usize>i * <usize>P * rowBytes;
    for (let t = 0; t < T; t++) {
      const dtv = load<f32>(dt + ((<usize>t * <usize>H + <usize>i) << 2));
      const dA = exp1(dtv * a);
      const dAv = f32x4.splat(dA);
      const bRow = B + <usize>t * bcRowBytes + groupOffset;
      const cRow = C + <usize>t * bcRowBytes + groupOffset;
      const xs = x + <usize>t * xRowBytes + ((<usize>i * <usize>P) << 2); // x[t, i, 0..P)
      const ys = y + <usize>t * yRowBytes + ((<usize>i * <usize>P) << 2);
      let p = 0;
      for (; p + 4 <= P; p += 4) {
        // four rows p..p+3, sharing the loads of B and C
        const x0 = load<f32>(xs + (<usize>p << 2)), x1 = load<f32>(xs + (<usize>p << 2), 4);
        const x2 = load<f32>(xs + (<usize>p << 2), 8), x3 = load<f32>(xs + (<usize>p << 2), 12);
        const d0 = f32x4.splat(dtv * x0), d1 = f32x4.splat(dtv * x1), d2 = f32x4.splat(dtv * x2), d3 = f32x4.splat(dtv * x3);
        const h0 = hHead + <usize>p * rowBytes, h1 = h0 + rowBytes, h2 = h1 + rowBytes, h3 = h2 + rowBytes;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        for (let n = 0; n + 4 <= S; n += 4) {
          const o = <usize>n << 2;
          const bv = load<v128>(bRow + o), cv = load<v128>(cRow + o);
          const v0 = f32x4.add(f32x4.mul(dAv, load<v128>(h0 + o)), f32x4.mul(bv, d0));
          const v1 = f32x4.add(f32x4.mul(dAv, load<v128>(h1 + o)), f32x4.mul(bv, d1));
          const v2 = f32x4.add(f32x4.mul(dAv, load<v128>(h2 + o)), f32x4.mul(bv, d2));
          const v3 = f32x4.add(f32x4.mul(dAv, load<v128>(h3 + o)), f32x4.mul(bv, d3));
          store<v128>(h0 + o, v0);
          store<v128>(h1 + o, v1);
          store<v128>(h2 + o, v2);
          store<v128>(h3 + o, v3);
          s0 = f32x4.add(s0, f32x4.mul(v0, cv));
          s1 = f32x4.add(s1, f32x4.mul(v1, cv));
          s2 = f32x4.add(s2, f32x4.mul(v2, cv));
          s3 = f32x4.add(s3, f32x4.mul(v3, cv));
        }
        const po = <usize>p << 2;
        store<f32>(ys + po, rowTail(h0, bRow, cRow, dA, dtv * x0, S, hsum(s0)) + skip * x0);
        store<f32>(ys + po, rowTail(h1, bRow, cRow, dA, dtv * x1, S, hsum(s1)) + skip * x1, 4);
        store<f32>(ys + po, rowTail(h2, bRow, cRow, dA, dtv * x2, S, hsum(s2)) + skip * x2, 8);
        store<f32>(ys + po, rowTail(h3, bRow, cRow, dA, dtv * x3, S, hsum(s3)) + skip * x3, 12);
      }
      for (; p < P; p++) {
        // one row alone: the same sums as a row of the four above
        const xv = load<f32>(xs + (<usize>p << 2));
        const dtx = dtv * xv;
        const dtxv = f32x4.splat(dtx);
        const h0 = hHead + <usize>p * rowBytes;
        let s0 = f32x4.splat(0);
        for (let n = 0; n + 4 <= S; n += 4) {
          const o = <usize>n << 2;
          const v0 = f32x4.add(f32x4.mul(dAv, load<v128>(h0 + o)), f32x4.mul(load<v128>(bRow + o), dtxv));
          store<v128>(h0 + o, v0);
          s0 = f32x4.add(s0, f32x4.mul(v0, load<v128>(cRow + o)));
        }
        store<f32>(ys + (<usize>p << 2), rowTail(h0, bRow, cRow, dA, dtx, S, hsum(s0)) + skip * xv);
      }
    }
  }
}

/** All heads: see scan2_heads. T = 1 is one decoding step. */
export function scan2(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32): void {
  scan2_heads(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, 0, H);
}
