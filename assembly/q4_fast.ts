// Fast matmul for the 4-bit head (layout: q4.ts): y[T,N] = x[T,K] W^T from the 16-bit activations that
// i8_fast_prepare writes (quantize.ts: per token and block of 256 columns, q = round(x / step_b)).
//
// Per row and group of 32 columns: the four i16x8 vectors of the group's 4-bit values (two shifts
// each) times the four of its activations, `i32x4.dot_i16x8_s`: the integer sum Σ q_x q_w, exact (each
// lane adds 8 products of at most 32767 * 8, below 2^22). It is converted to f32 and multiplied by
// scale[n, g]; these are summed over the 8 groups of an activation block (256 = 8 * 32) in f32, times
// step_b, and the blocks summed in f32. The activations are zero past K (up to a multiple of 32), so
// the padding of the last group counts for nothing whatever it holds.
//
// Error against the exact product: every q_x is within half a step of x / step_b, so
//   |y - y_exact| <= Σ_k |W[n,k]| * step_b(k) / 2   (step_b = max|x in block| / 32767)
// plus f32 rounding, as for the int8 head (i8_fast.ts) with W's values in place of scale[n] * w[n,k].
import { i8_fast_prepare, quantizedCols, tokenBytes } from './i8_fast';
import { GROUP, GROUP_BYTES, groupCount, columns, scaleSplat } from './q4';
import { BLOCK_COLS } from './quantize';
import { hsum, hsum4 } from './simd';

const GROUPS_PER_BLOCK: i32 = BLOCK_COLS / GROUP; // 8: the groups of one activation block (one step)

/** acc + (Σ of the group's q_w times its activations a0..a3) * scale, for one row. */
@inline function addGroup(acc: v128, v: v128, a0: v128, a1: v128, a2: v128, a3: v128, scale: v128): v128 {
  const lo = i32x4.add(i32x4.dot_i16x8_s(columns(v, 0), a0), i32x4.dot_i16x8_s(columns(v, 1), a1));
  const hi = i32x4.add(i32x4.dot_i16x8_s(columns(v, 2), a2), i32x4.dot_i16x8_s(columns(v, 3), a3));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.add(lo, hi)), scale));
}

/**
 * Rows n0 <= n < n1 of y[T, N] (all T tokens) from the scratch i8_fast_prepare wrote.
 * w: 4-bit [N, K] (q4.ts); scale: bf16 [N, ceil(K/32)]. Four rows at a time share the activation loads;
 * a row gives the same bits in either loop.
 */
export function q4_fast_rows(y: usize, scratch: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const stride = <usize>tokenBytes(K);
  const stepsAt = <usize>quantizedCols(K) << 1; // offset of the block steps in a token's scratch
  const G = groupCount(K);
  const rowBytes = <usize>G * GROUP_BYTES, scaleRowBytes = <usize>G << 1;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const w0 = w + <usize>n * rowBytes, s0 = scale + <usize>n * scaleRowBytes;
    for (let t = 0; t < T; t++) {
      const q = scratch + <usize>t * stride;
      let r0 = f32x4.splat(0), r1 = f32x4.splat(0), r2 = f32x4.splat(0), r3 = f32x4.splat(0);
      for (let g0 = 0; g0 < G; g0 += GROUPS_PER_BLOCK) { // an activation block: one step
        let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
        for (let g = g0; g < min(G, g0 + GROUPS_PER_BLOCK); g++) {
          const a = q + (<usize>g << 6); // 32 i16
          const a0 = load<v128>(a), a1 = load<v128>(a, 16), a2 = load<v128>(a, 32), a3 = load<v128>(a, 48);
          const wg = w0 + <usize>g * GROUP_BYTES, sg = s0 + (<usize>g << 1);
          b0 = addGroup(b0, load<v128>(wg), a0, a1, a2, a3, scaleSplat(sg));
          b1 = addGroup(b1, load<v128>(wg + rowBytes), a0, a1, a2, a3, scaleSplat(sg + scaleRowBytes));
          b2 = addGroup(b2, load<v128>(wg + 2 * rowBytes), a0, a1, a2, a3, scaleSplat(sg + 2 * scaleRowBytes));
          b3 = addGroup(b3, load<v128>(wg + 3 * rowBytes), a0, a1, a2, a3, scaleSplat(sg + 3 * scaleRowBytes));
        }
        const step = v128.load32_splat(q + stepsAt + (<usize>(g0 / GROUPS_PER_BLOCK) << 2));
        r0 = f32x4.add(r0, f32x4.mul(b0, step));
        r1 = f32x4.add(r1, f32x4.mul(b1, step));
        r2 = f32x4.add(r2, f32x4.mul(b2, step));
        r3 = f32x4.add(r3, f32x4.mul(b3, step));
      }
      store<v128>(y + (<usize>(t * N + n) << 2), hsum4(r0, r1, r2, r3));
    }
  }
  for (; n < n1; n++) {
    const w0 = w + <usize>n * rowBytes, s0 = scale + <usize>n * scaleRowBytes;
    for (let t = 0; t < T; t++) {
      const q = scratch + <usize>t * stride;
      let r0 = f32x4.splat(0);
      for (let g0 = 0; g0 < G; g0 += GROUPS_PER_BLOCK) {
        let b0 = f32x4.splat(0);
        for (let g = g0; g < min(G, g0 + GROUPS_PER_BLOCK); g++) {
          const a = q + (<usize>g << 6);
          const a0 = load<v128>(a), a1 = load<v128>(a, 16), a2 = load<v128>(a, 32), a3 = load<v128>(a, 48);
          b0 = addGroup(b0, load<v128>(w0 + <usize>g * GROUP_BYTES), a0, a1, a2, a3, scaleSplat(s0 + (<usize>g << 1)));
        }
        r0 = f32x4.add(r0, f32x4.mul(b0, v128.load32_splat(q + stepsAt + (<usize>(g0 / GROUPS_PER_BLOCK) << 2))));
      }
      store<f32>(y + (<usize>(t * N + n) << 2), hsum(r0));
    }
  }
}

/** y[T, N] = x[T, K] W^T on the fast path: quantize (into scratch of i8_fast_scratch_bytes(K, T)), then every row. */
export function q4_fast_gemm(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  i8_fast_prepare(scratch, x, T, K, xStride);
  q4_fast_rows(y, scratch, w, scale, T, N, K, 0, N);
}
