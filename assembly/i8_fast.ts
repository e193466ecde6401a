// Fast int8 matmul for int8 weights (the LM head): y[T,N] = x[T,K] W^T with W[n,k] = scale[n] * w[n,k].
// The exact kernel (matmul.ts, matmul_i8) converts every weight to f32; this one quantizes x to 16-bit
// integers and multiplies integers: i32x4.dot_i16x8_s does 8 multiply-adds in one instruction, and
// v128.load8x8_s widens 8 weights in one load.
//
// 1. i8_fast_prepare (quantize.ts): per token, x is split into blocks of 256 columns; in block b,
//    step_b = max|x| / 32767 and q[k] = round(x[k] / step_b) (round half to even), an i16.
// 2. i8_fast_rows: per row and block, the integer sum Σ q[k] w[n,k]: each i32 lane adds 32 products
//    of pairs, at most 32 * 2 * 128 * 32767 < 2^28, and the four lanes at most 2^30: no overflow. It
//    is converted to f32, times step_b, summed over blocks in f32, then times scale[n].
//
// Error against the exact product: every q is within half a step of x / step_b, so
//   |y - y_exact| <= scale[n] * Σ_k |w[n,k]| * step_b(k) / 2   (step_b = max|x in block| / 32767),
// plus f32 rounding: about 1e-5 of the row's size at worst. A block whose largest |x| is below 2^-100
// counts as zero.
//
// Scratch, per token (token t at scratch + t * tokenBytes(K), a multiple of 64): Kp i16 (Kp = K rounded
// up to 8; padding is 0), then the f32 steps of the ceil(K/256) blocks.

import { roundSmall, hsum4i } from './simd';
import { paddedK, blockCount, value1, values4, quantizeBlock, BLOCK_COLS } from './quantize';

const LEVELS: f32 = 32767; // largest |q|: 16 bits

/** Bytes of scratch one token needs. */
@inline function tokenBytes(K: i32): i32 {
  return (2 * paddedK(K) + 4 * blockCount(K) + 63) & ~63;
}

/** Bytes of scratch for T tokens. */
export function i8_fast_scratch_bytes(K: i32, T: i32): i32 {
  return T * tokenBytes(K);
}

/** Quantize x[T, K] (rows `xStride` floats apart) into scratch: per token Kp i16 values and the block steps. */
export function i8_fast_prepare(scratch: usize, x: usize, T: i32, K: i32, xStride: i32): void {
  const stride = <usize>tokenBytes(K);
  const Kp = paddedK(K);
  const blocks = blockCount(K);
  for (let t = 0; t < T; t++) {
    const xt = x + <usize>t * (<usize>xStride << 2);
    const q = scratch + <usize>t * stride;
    const steps = q + (<usize>Kp << 1);
    for (let b = 0; b < blocks; b++) {
      const k0 = b * BLOCK_COLS, k1 = min(K, k0 + BLOCK_COLS);
      const inv = quantizeBlock(xt, 0, k0, k1, LEVELS, steps + (<usize>b << 2));
      const invv = f32x4.splat(inv);
      let k = k0;
      for (; k + 4 <= k1; k += 4) {
        const qi = roundSmall(f32x4.mul(values4(xt, 0, k), invv)); // |.| <= 32767
        v128.store64_lane(q + (<usize>k << 1), i16x8.narrow_i32x4_s(qi, qi), 0);
      }
      for (; k < k1; k++) {
        const qi = roundSmall(f32x4.splat(value1(xt, 0, k, K) * inv));
        store<i16>(q + (<usize>k << 1), <i16>i32x4.extract_lane(qi, 0));
      }
    }
    for (let k = K; k < Kp; k++) store<i16>(q + (<usize>k << 1), 0);
  }
}

/** Σ w[k] q[k] over k0..k1-1 for one row, as partial sums in the 4 i32 lanes (exact integers). */
@inline function dotRow(w: usize, q: usize, k0: i32, k1: i32): v128 {
  let acc = i32x4.splat(0);
  let k = k0;
  for (; k + 8 <= k1; k += 8) acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load8x8_s(w + <usize>k), load<v128>(q + (<usize>k << 1))));
  let tail: i32 = 0;
  for (; k < k1; k++) tail += <i32>load<i8>(w + <usize>k) * <i32>load<i16>(q + (<usize>k << 1));
  return i32x4.replace_lane(acc, 0, i32x4.extract_lane(acc, 0) + tail);
}

/**
 * Rows n0 <= n < n1 of y[T, N] (all T tokens) from the scratch i8_fast_prepare wrote.
 * w: int8 [N, K]; scale: f32 [N].
 */
export function i8_fast_rows(y: usize, scratch: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const stride = <usize>tokenBytes(K);
  const steps = <usize>paddedK(K) << 1; // offset of the steps in a token's scratch
  const rowBytes = <usize>K;
  const blocks = blockCount(K);
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const w0 = w + <usize>n * rowBytes;
    for (let t = 0; t < T; t++) {
      const q = scratch + <usize>t * stride;
      let sum = f32x4.splat(0);
      for (let b = 0; b < blocks; b++) {
        const k0 = b * BLOCK_COLS, k1 = min(K, k0 + BLOCK_COLS);
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
        let k = k0;
        for (; k + 8 <= k1; k += 8) {
          const qv = load<v128>(q + (<usize>k << 1));
          const p = w0 + <usize>k;
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(p), qv));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(p + rowBytes), qv));
          a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(p + 2 * rowBytes), qv));
          a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(p + 3 * rowBytes), qv));
        }
        let ints = hsum4i(a0, a1, a2, a3);
        for (; k < k1; k++) {
          const qk = i32x4.splat(<i32>load<i16>(q + (<usize>k << 1)));
          const p = w0 + <usize>k;
          const wk = i32x4(<i32>load<i8>(p), <i32>load<i8>(p + rowBytes), <i32>load<i8>(p + 2 * rowBytes), <i32>load<i8>(p + 3 * rowBytes));
          ints = i32x4.add(ints, i32x4.mul(wk, qk));
        }
        sum = f32x4.add(sum, f32x4.mul(f32x4.convert_i32x4_s(ints), f32x4.splat(load<f32>(q + steps + (<usize>b << 2)))));
      }
      store<v128>(y + <usize>t * (<usize>N << 2) + (<usize>n << 2), f32x4.mul(sum, load<v128>(scale + (<usize>n << 2))));
    }
  }
  for (; n < n1; n++) {
    const wRow = w + <usize>n * rowBytes;
    for (let t = 0; t < T; t++) {
      const q = scratch + <usize>t * stride;
      let sum: f32 = 0;
      for (let b = 0; b < blocks; b++) {
        const k0 = b * BLOCK_COLS, k1 = min(K, k0 + BLOCK_COLS);
        const acc = dotRow(wRow, q, k0, k1);
        const ints = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
        sum += <f32>ints * load<f32>(q + steps + (<usize>b << 2));
      }
      store<f32>(y + <usize>t * (<usize>N << 2) + (<usize>n << 2), sum * load<f32>(scale + (<usize>n << 2)));
    }
  }
}

/** y[T, N] = x[T, K] W^T on the fast path: quantize, then every row. */
export function i8_fast_gemm(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  i8_fast_prepare(scratch, x, T, K, xStride);
  i8_fast_rows(y, scratch, w, scale, T, N, K, 0, N);
}
