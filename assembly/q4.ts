// The 4-bit head (`--head q4`): its layout, the exact matmul over it, and the embedding row lookup.
// The fast matmul is q4_fast.ts.
//
// W [N, K] is stored as G = ceil(K/32) groups per row, 16 bytes a group (rows G*16 bytes apart), and a
// bf16 scale per group, scale [N, G]: W[n, 32g + j] = scale[n, g] * q, q a 4-bit two's complement
// integer in [-8, 7]. The 16 bytes of a group are 8 little-endian u16 words; word i holds columns
// i, 8+i, 16+i, 24+i of the group in bits 0-3, 4-7, 8-11, 12-15. So one 16-byte load and a shift
// pair per 8 columns give the group as four i16x8 vectors of consecutive columns (`columns`), with
// native 16-bit shifts (x86 has no 8-bit ones). Columns past K in the last group are padding: kernels
// never let them count (the exact ones read no x there, the fast one multiplies them by zeros).
//
// scale * q is exact in f32 (8 + 4 significant bits), so the lookup gives W's values exactly.
import { hsum } from './simd';

export const GROUP: i32 = 32;
export const GROUP_BYTES: i32 = 16;

/** Groups in a row of K columns (the last may be short). */
@inline export function groupCount(K: i32): i32 {
  return (K + GROUP - 1) / GROUP;
}

/** Columns 8c..8c+7 (c = 0..3) of a group's 16 bytes `v`, as i16x8: the 4 bits at 4c, sign-extended. */
@inline export function columns(v: v128, c: i32): v128 {
  return i16x8.shr_s(i16x8.shl(v, 12 - 4 * c), 12);
}

/** A bf16 scale at p, as f32 in all four lanes: bf16 is the top half of an f32. */
@inline export function scaleSplat(p: usize): v128 {
  return i32x4.shl(v128.load16_splat(p), 16);
}

/** The same bf16 at p as one f32. */
@inline function scale1(p: usize): f32 {
  return reinterpret<f32>(<i32>load<u16>(p) << 16);
}

/** q of column j (0..31) of the group at p. */
@inline function q1(p: usize, j: i32): i32 {
  const word = <i32>load<u16>(p + (<usize>(j & 7) << 1));
  return (word << (28 - 4 * (j >> 3))) >> 28;
}

/** Four i16 columns' worth of q (lanes 0..3 or 4..7 of an i16x8) times four x, as f32x4. */
@inline function mulLow(q: v128, x: usize): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), load<v128>(x));
}
@inline function mulHigh(q: v128, x: usize): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), load<v128>(x, 16));
}

/** Σ_k W[n,k] x[k] for one row (`w` its packed bytes, `s` its scales) in f32: Σ q x per group, times the group's scale. */
function rowDot(x: usize, w: usize, s: usize, K: i32): f32 {
  const whole = K / GROUP;
  let acc = f32x4.splat(0);
  for (let g = 0; g < whole; g++) {
    const v = load<v128>(w + <usize>g * GROUP_BYTES);
    const xg = x + (<usize>(g * GROUP) << 2);
    let sum = f32x4.splat(0);
    for (let c = 0; c < 4; c++) {
      const q = columns(v, c);
      sum = f32x4.add(sum, f32x4.add(mulLow(q, xg + (<usize>c << 5)), mulHigh(q, xg + (<usize>c << 5))));
    }
    acc = f32x4.add(acc, f32x4.mul(sum, scaleSplat(s + (<usize>g << 1))));
  }
  let out = hsum(acc);
  if (whole * GROUP < K) { // the short last group, column by column: x has nothing past K
    const p = w + <usize>whole * GROUP_BYTES;
    let tail: f32 = 0;
    for (let k = whole * GROUP; k < K; k++) tail += <f32>q1(p, k - whole * GROUP) * load<f32>(x + (<usize>k << 2));
    out += tail * scale1(s + (<usize>whole << 1));
  }
  return out;
}

/** Rows n0 <= n < n1 of y[T,N] = x[T,K] W^T, W 4-bit [N,K] (above); x rows `xStride` floats apart. */
export function q4_rows(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32, n0: i32, n1: i32): void {
  const G = groupCount(K);
  for (let n = n0; n < n1; n++) {
    const wRow = w + <usize>n * <usize>(G * GROUP_BYTES);
    const sRow = scale + (<usize>(n * G) << 1);
    for (let t = 0; t < T; t++) {
      store<f32>(y + (<usize>(t * N + n) << 2), rowDot(x + (<usize>(t * xStride) << 2), wRow, sRow, K));
    }
  }
}

/** y[T,N] = x[T,K] W^T, W 4-bit [N,K] with bf16 scales [N, ceil(K/32)]. */
export function matmul_q4(y: usize, x: usize, w: usize, scale: usize, T: i32, N: i32, K: i32, xStride: i32): void {
  q4_rows(y, x, w, scale, T, N, K, xStride, 0, N);
}

/** y[n] = W's row at `src` (packed bytes) with its scales at `scale` (bf16), n columns: the embedding lookup. */
export function q4_row_to_f32(y: usize, src: usize, scale: usize, n: i32): void {
  const whole = n / GROUP;
  for (let g = 0; g < whole; g++) {
    const v = load<v128>(src + <usize>g * GROUP_BYTES);
    const d = scaleSplat(scale + (<usize>g << 1));
    const yg = y + (<usize>(g * GROUP) << 2);
    for (let c = 0; c < 4; c++) {
      const q = columns(v, c);
      store<v128>(yg + (<usize>c << 5), f32x4.mul(d, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q))));
      store<v128>(yg + (<usize>c << 5), f32x4.mul(d, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q))), 16);
    }
  }
  if (whole * GROUP < n) {
    const p = src + <usize>whole * GROUP_BYTES;
    const d = scale1(scale + (<usize>whole << 1));
    for (let k = whole * GROUP; k < n; k++) store<f32>(y + (<usize>k << 2), d * <f32>q1(p, k - whole * GROUP));
  }
}
