// Dense matmul y[T,N] = x[T,K] W^T with W [N,K] row-major in f32, f16 or int8 (per-row scale).
//
// Four rows of W are taken at a time and every token is run past them while they sit in cache, so
// W streams from memory once however long the sequence is. Each output is a dot product over k:
// four partial sums (one per lane, k mod 4) added at the end, then the k tail in order.
// The three weight types share this code; WT (f32, u16 = half bits, i8) picks how 4 weights load.
import { hsum, hsum4 } from './simd';
import { loadHalf1, loadHalf4 } from './half';

/** Four consecutive weights of one row at p, as f32x4. */
@inline function loadWeights4<WT>(p: usize): v128 {
  if (sizeof<WT>() == 4) return load<v128>(p);
  if (sizeof<WT>() == 2) return loadHalf4(p);
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

/** One weight at p, as f32. */
@inline function loadWeight1<WT>(p: usize): f32 {
  if (sizeof<WT>() == 4) return load<f32>(p);
  if (sizeof<WT>() == 2) return loadHalf1(p);
  return <f32>load<i8>(p);
}

/** [w0·x, w1·x, w2·x, w3·x] for four rows of W starting at w (rows `rowBytes` apart). */
@inline function dot4Rows<WT>(x: usize, w: usize, rowBytes: usize, K: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const xv = load<v128>(x + (<usize>k << 2));
    const p = w + <usize>k * sizeof<WT>();
    a0 = f32x4.add(a0, f32x4.mul(loadWeights4<WT>(p), xv));
    a1 = f32x4.add(a1, f32x4.mul(loadWeights4<WT>(p + rowBytes), xv));
    a2 = f32x4.add(a2, f32x4.mul(loadWeights4<WT>(p + 2 * rowBytes), xv));
    a3 = f32x4.add(a3, f32x4.mul(loadWeights4<WT>(p + 3 * rowBytes), xv));
  }
  let sums = hsum4(a0, a1, a2, a3);
  for (; k < K; k++) {
    const xk = f32x4.splat(load<f32>(x + (<usize>k << 2)));
    const p = w + <usize>k * sizeof<WT>();
    let wk = f32x4.splat(loadWeight1<WT>(p));
    wk = f32x4.replace_lane(wk, 1, loadWeight1<WT>(p + rowBytes));
    wk = f32x4.replace_lane(wk, 2, loadWeight1<WT>(p + 2 * rowBytes));
    wk = f32x4.replace_lane(wk, 3, loadWeight1<WT>(p + 3 * rowBytes));
    sums = f32x4.add(sums, f32x4.mul(wk, xk));
  }
  return sums;
}

/** w·x for one row. */
@inline function dot1Row<WT>(x: usize, w: usize, K: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    acc = f32x4.add(acc, f32x4.mul(loadWeights4<WT>(w + <usize>k * sizeof<WT>()), load<v128>(x + (<usize>k << 2))));
  }
  let s = hsum(acc); // the same order as a lane of hsum4
  for (; k < K; k++) s += loadWeight1<WT>(w + <usize>k * sizeof<WT>()) * load<f32>(x + (<usize>k << 2));
  return s;
}

/**
 * Rows n0 <= n < n1 of y[T,N] = x[T,K] W^T, times scale[n] per row when WT is i8. Every row gives the
 * same bits whichever range it is computed in (the 4-row and 1-row paths sum in the same order).
 */
@inline function matmulRows<WT>(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32, n0: i32, n1: i32): void {
  const rowBytes = <usize>K * sizeof<WT>();
  const xRowBytes = <usize>xStride << 2;
  const yRowBytes = <usize>N << 2;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const wRows = w + <usize>n * rowBytes;
    const yCol = y + (<usize>n << 2);
    for (let t = 0; t < T; t++) {
      let out = dot4Rows<WT>(x + <usize>t * xRowBytes, wRows, rowBytes, K);
      if (sizeof<WT>() == 1) out = f32x4.mul(out, load<v128>(scale + (<usize>n << 2)));
      store<v128>(yCol + <usize>t * yRowBytes, out);
    }
  }
  for (; n < n1; n++) {
    const wRow = w + <usize>n * rowBytes;
    const yCol = y + (<usize>n << 2);
    for (let t = 0; t < T; t++) {
      let out = dot1Row<WT>(x + <usize>t * xRowBytes, wRow, K);
      if (sizeof<WT>() == 1) out *= load<f32>(scale + (<usize>n << 2));
      store<f32>(yCol + <usize>t * yRowBytes, out);
    }
  }
}

/** Rows n0..n1-1 of matmul_f32 (for splitting rows between threads). */
export function f32_rows(y: usize, x: usize, w: usize, T: i32, N: i32, K: i32, xStride: i32, n0: i32, n1: i32): void {
  matmulRows<f32>(y, x, w, 0, T, N, K, xStride, n0, n1);
}

/** Rows n0..n1-1 of matmul_f16. */
export function f16_rows(y: usize, x: usize, w: usize, T: i32, N: i32, K: i32, xStride: i32, n0: i32, n1: i32): void {
  matmulRows<u16>(y, x, w, 0, T, N, K, xStride, n0, n1);
}

/** Rows n0..n1-1 of matmul_i8. */
export function i8_rows(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32, n0: i32, n1: i32): void {
  matmulRows<i8>(y, x, w, scale, T, N, K, xStride, n0, n1);
}

/** y[T,N] = x[T,K] W^T, W f32 [N,K]; x rows `xStride` floats apart (K when contiguous). */
export function matmul_f32(y: usize, x: usize, w: usize, T: i32, N: i32, K: i32, xStride: i32): void {
  matmulRows<f32>(y, x, w, 0, T, N, K, xStride, 0, N);
}

/** y[T,N] = x[T,K] W^T, W IEEE half [N,K]. */
export function matmul_f16(y: usize, x: usize, w: usize, T: i32, N: i32, K: i32, xStride: i32): void {
  matmulRows<u16>(y, x, w, 0, T, N, K, xStride, 0, N);
}

/** y[T,N] = x[T,K] W^T with W[n,k] = scale[n] * q[n,k], q int8 [N,K], scale f32 [N]. */
export function matmul_i8(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32): void {
  matmulRows<i8>(y, x, w, scale, T, N, K, xStride, 0, N);
}
