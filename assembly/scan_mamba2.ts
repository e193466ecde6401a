// Mamba-2 (SSD) recurrence, one token at a time: per head i a scalar decay, per (head, channel p) a
// state row over S (d_state).
//
//   dA = exp(dt[i] * A[i])
//   h[i,p,:] = dA * h[i,p,:] + B[g,:] * (dt[i] * x[i,p])
//   y[i,p] = C[g,:] · h[i,p,:] + Dskip[i] * x[i,p],    g = i / (H / G)
//
// A head's P state rows (P*S values, 32 KiB of f32 for the usual 64 x 128) stay in cache while the head
// runs through all T tokens. Per token, dA is computed once for the head (exp1: relative error < 1.5e-7,
// see exp.ts), and four rows at a time share each load of B and C; every row keeps its own running
// sum, in the same order as a row done alone, so the result does not depend on how rows are grouped.
// SIMD runs over the state dimension (f32: four values a step; bf16: eight, see state.ts); the rest
// of a row is scalar f32 (rowTail).
//
// The state is stored as f32 (scan2_heads) or bf16 (scan2_heads_bf16, state.ts): the same f32
// arithmetic, y computed from the unrounded new state, and the state rounded to bf16 once per call (at
// T = 1 as each value is stored; at T > 1 at the end, from an f32 copy in scratch).
import { exp1 } from './exp';
import { hsum } from './simd';
import { bf16Evens, bf16Odds, evens, loadState, narrowToBf16, odds, simdEnd, storeState, toBf16x8, widenBf16 } from './state';

/** The scalar tail (n from simdEnd) of one row, continuing from the SIMD sum `out`. */
@inline function rowTail<Store>(hRow: usize, bRow: usize, cRow: usize, dA: f32, dtx: f32, S: i32, out: f32): f32 {
  for (let n = simdEnd<Store>(S); n < S; n++) {
    const o = <usize>n << 2;
    const ho = <usize>n * sizeof<Store>();
    const hv = dA * loadState<Store>(hRow + ho) + load<f32>(bRow + o) * dtx;
    storeState<Store>(hRow + ho, hv);
    out += hv * load<f32>(cRow + o);
  }
  return out;
}

/** Heads i0 <= i < i1, the state stored as Store (f32, or u16 for bf16). */
@inline function scanHeads<Store>(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32, i0: i32, i1: i32): void {
  const headsPerGroup = H / G;
  const xRowBytes = <usize>xStride << 2;
  const yRowBytes = <usize>(H * P) << 2;
  const bcRowBytes = <usize>bcStride << 2;
  const hRowBytes = <usize>S * sizeof<Store>();
  for (let i = i0; i < i1; i++) {
    const a = load<f32>(A + (<usize>i << 2));
    const skip = load<f32>(Dskip + (<usize>i << 2));
    const groupOffset = <usize>((i / headsPerGroup) * S) << 2;
    const hHead = h + <usize>i * <usize>P * hRowBytes;
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
        const h0 = hHead + <usize>p * hRowBytes, h1 = h0 + hRowBytes, h2 = h1 + hRowBytes, h3 = h2 + hRowBytes;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        if (sizeof<Store>() == 4) {
          let ho: usize = 0;
          for (let n = 0; n + 4 <= S; n += 4, ho += 16) {
            const o = <usize>n << 2;
            const bv = load<v128>(bRow + o), cv = load<v128>(cRow + o);
            const v0 = f32x4.add(f32x4.mul(dAv, load<v128>(h0 + ho)), f32x4.mul(bv, d0));
            const v1 = f32x4.add(f32x4.mul(dAv, load<v128>(h1 + ho)), f32x4.mul(bv, d1));
            const v2 = f32x4.add(f32x4.mul(dAv, load<v128>(h2 + ho)), f32x4.mul(bv, d2));
            const v3 = f32x4.add(f32x4.mul(dAv, load<v128>(h3 + ho)), f32x4.mul(bv, d3));
            store<v128>(h0 + ho, v0);
            store<v128>(h1 + ho, v1);
            store<v128>(h2 + ho, v2);
            store<v128>(h3 + ho, v3);
            s0 = f32x4.add(s0, f32x4.mul(v0, cv));
            s1 = f32x4.add(s1, f32x4.mul(v1, cv));
            s2 = f32x4.add(s2, f32x4.mul(v2, cv));
            s3 = f32x4.add(s3, f32x4.mul(v3, cv));
          }
        } else {
          // bf16: eight values a step, as their even and odd halves (bf16Evens/bf16Odds)
          let ho: usize = 0;
          for (let n = 0; n + 8 <= S; n += 8, ho += 16) {
            const o = <usize>n << 2;
            const b0 = load<v128>(bRow + o), b1 = load<v128>(bRow + o, 16);
            const c0 = load<v128>(cRow + o), c1 = load<v128>(cRow + o, 16);
            const be = evens(b0, b1), bo = odds(b0, b1), ce = evens(c0, c1), co = odds(c0, c1);
            const r0 = load<v128>(h0 + ho), r1 = load<v128>(h1 + ho), r2 = load<v128>(h2 + ho), r3 = load<v128>(h3 + ho);
            const e0 = f32x4.add(f32x4.mul(dAv, bf16Evens(r0)), f32x4.mul(be, d0)), o0 = f32x4.add(f32x4.mul(dAv, bf16Odds(r0)), f32x4.mul(bo, d0));
            const e1 = f32x4.add(f32x4.mul(dAv, bf16Evens(r1)), f32x4.mul(be, d1)), o1 = f32x4.add(f32x4.mul(dAv, bf16Odds(r1)), f32x4.mul(bo, d1));
            const e2 = f32x4.add(f32x4.mul(dAv, bf16Evens(r2)), f32x4.mul(be, d2)), o2 = f32x4.add(f32x4.mul(dAv, bf16Odds(r2)), f32x4.mul(bo, d2));
            const e3 = f32x4.add(f32x4.mul(dAv, bf16Evens(r3)), f32x4.mul(be, d3)), o3 = f32x4.add(f32x4.mul(dAv, bf16Odds(r3)), f32x4.mul(bo, d3));
            store<v128>(h0 + ho, toBf16x8(e0, o0));
            store<v128>(h1 + ho, toBf16x8(e1, o1));
            store<v128>(h2 + ho, toBf16x8(e2, o2));
            store<v128>(h3 + ho, toBf16x8(e3, o3));
            s0 = f32x4.add(f32x4.add(s0, f32x4.mul(e0, ce)), f32x4.mul(o0, co));
            s1 = f32x4.add(f32x4.add(s1, f32x4.mul(e1, ce)), f32x4.mul(o1, co));
            s2 = f32x4.add(f32x4.add(s2, f32x4.mul(e2, ce)), f32x4.mul(o2, co));
            s3 = f32x4.add(f32x4.add(s3, f32x4.mul(e3, ce)), f32x4.mul(o3, co));
          }
        }
        const po = <usize>p << 2;
        store<f32>(ys + po, rowTail<Store>(h0, bRow, cRow, dA, dtv * x0, S, hsum(s0)) + skip * x0);
        store<f32>(ys + po, rowTail<Store>(h1, bRow, cRow, dA, dtv * x1, S, hsum(s1)) + skip * x1, 4);
        store<f32>(ys + po, rowTail<Store>(h2, bRow, cRow, dA, dtv * x2, S, hsum(s2)) + skip * x2, 8);
        store<f32>(ys + po, rowTail<Store>(h3, bRow, cRow, dA, dtv * x3, S, hsum(s3)) + skip * x3, 12);
      }
      for (; p < P; p++) {
        // one row alone: the same sums as a row of the four above
        const xv = load<f32>(xs + (<usize>p << 2));
        const dtx = dtv * xv;
        const dtxv = f32x4.splat(dtx);
        const h0 = hHead + <usize>p * hRowBytes;
        let s0 = f32x4.splat(0);
        if (sizeof<Store>() == 4) {
          for (let n = 0; n + 4 <= S; n += 4) {
            const o = <usize>n << 2;
            const v0 = f32x4.add(f32x4.mul(dAv, load<v128>(h0 + o)), f32x4.mul(load<v128>(bRow + o), dtxv));
            store<v128>(h0 + o, v0);
            s0 = f32x4.add(s0, f32x4.mul(v0, load<v128>(cRow + o)));
          }
        } else {
          let ho: usize = 0;
          for (let n = 0; n + 8 <= S; n += 8, ho += 16) {
            const o = <usize>n << 2;
            const b0 = load<v128>(bRow + o), b1 = load<v128>(bRow + o, 16);
            const c0 = load<v128>(cRow + o), c1 = load<v128>(cRow + o, 16);
            const r0 = load<v128>(h0 + ho);
            const e0 = f32x4.add(f32x4.mul(dAv, bf16Evens(r0)), f32x4.mul(evens(b0, b1), dtxv));
            const o0 = f32x4.add(f32x4.mul(dAv, bf16Odds(r0)), f32x4.mul(odds(b0, b1), dtxv));
            store<v128>(h0 + ho, toBf16x8(e0, o0));
            s0 = f32x4.add(f32x4.add(s0, f32x4.mul(e0, evens(c0, c1))), f32x4.mul(o0, odds(c0, c1)));
          }
        }
        store<f32>(ys + (<usize>p << 2), rowTail<Store>(h0, bRow, cRow, dA, dtx, S, hsum(s0)) + skip * xv);
      }
    }
  }
}

/**
 * Heads i0 <= i < i1 of scan2 (for splitting heads between threads).
 * y [T, H*P]; x rows of H*P, `xStride` floats apart; B, C rows of G*S, `bcStride` floats apart (x, B
 * and C are views of the conv output `[T, x | B | C]`); dt [T, H]; A, Dskip [H]; h [H, P, S] f32, read
 * and updated.
 */
export function scan2_heads(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32, i0: i32, i1: i32): void {
  scanHeads<f32>(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, i0, i1);
}

/**
 * scan2_heads with the state h [H, P, S] stored as bf16, rounded once per call (state.ts): one token
 * runs the bf16 loop; more widen each head's state into its place in `scratch` ([H, P, S] f32), run the
 * f32 loop there and round back at the end.
 */
export function scan2_heads_bf16(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32, scratch: usize, i0: i32, i1: i32): void {
  if (T == 1) {
    scanHeads<u16>(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, i0, i1);
    return;
  }
  const n = P * S;
  for (let i = i0; i < i1; i++) {
    const head = h + <usize>i * <usize>n * 2, wide = scratch + <usize>i * <usize>n * 4;
    widenBf16(wide, head, n);
    scanHeads<f32>(y, x, dt, A, B, C, Dskip, scratch, T, H, P, S, G, xStride, bcStride, i, i + 1);
    narrowToBf16(head, wide, n);
  }
}

/** All heads: see scan2_heads. T = 1 is one decoding step. */
export function scan2(y: usize, x: usize, dt: usize, A: usize, B: usize, C: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, xStride: i32, bcStride: i32): void {
  scan2_heads(y, x, dt, A, B, C, Dskip, h, T, H, P, S, G, xStride, bcStride, 0, H);
}
