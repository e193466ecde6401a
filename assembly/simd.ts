// Small SIMD helpers shared by the kernels. Pointers are byte offsets into the imported memory.

/** The sum of the four lanes of an f32x4, as ((v0 + v2) + (v1 + v3)). */
@inline export function hsum(v: v128): f32 {
  const pairs = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1)); // v0+v2, v1+v3, ..
  return f32x4.extract_lane(pairs, 0) + f32x4.extract_lane(pairs, 1);
}

/** [Σa, Σb, Σc, Σd]: the lane sums of four vectors, in one vector. */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** hsum4 for i32x4 lanes (exact integer sums). */
@inline export function hsum4i(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}

/** Σ a[k]*b[k] over n f32s. */
export function dot(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const off = <usize>k << 2;
    acc = f32x4.add(acc, f32x4.mul(load<v128>(a + off), load<v128>(b + off)));
  }
  let s = hsum(acc);
  for (; k < n; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  return s;
}

/** Σ a[k]² over n f32s. */
export function sumSquares(a: usize, n: i32): f32 {
  return dot(a, a, n);
}

/** Store the first `count` lanes of v at p (all four when count >= 4; none when count <= 0). */
@inline export function storeLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) {
    store<v128>(p, v);
    return;
  }
  if (count > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

const ROUNDING_BIAS: f32 = 12582912; // 1.5 * 2^23

/**
 * round(v) to i32 lanes, half to even, for |v| < 2^22: adding 1.5 * 2^23 leaves the rounded integer in
 * the low mantissa bits (the add itself rounds to nearest even). Two instructions instead of
 * nearest + trunc_sat. Outside that range (NaN, inf) the lanes are meaningless.
 */
@inline export function roundSmall(v: v128): v128 {
  return i32x4.sub(f32x4.add(v, f32x4.splat(ROUNDING_BIAS)), i32x4.splat(0x4b400000));
}
