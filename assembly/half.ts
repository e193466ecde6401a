// IEEE 754 half precision (binary16) to f32, four at a time, in registers.
//
// Shifting the half's exponent and mantissa left by 13 puts them where an f32 keeps them; read as an
// f32 that is the half's value times 2^-112 (the exponent biases are 15 and 127), for normal halves
// and for subnormal ones alike (a subnormal half becomes a subnormal f32). One multiply by 2^112 then
// gives the exact value. Inf and NaN (exponent all ones) only need the f32 exponent set to all ones.

const TWO_POW_112: i32 = 0x77800000; // the bits of the f32 2^112

/** f32x4 from four halves given as the low 16 bits of each i32 lane. */
@inline export function halfToF32x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const magnitude = v128.and(h, i32x4.splat(0x7fff));
  const shifted = i32x4.shl(magnitude, 13);
  const finite = f32x4.mul(shifted, i32x4.splat(TWO_POW_112));
  const infOrNan = v128.or(shifted, i32x4.splat(0x7f800000));
  const isInfOrNan = i32x4.gt_s(magnitude, i32x4.splat(0x7bff));
  return v128.or(v128.bitselect(infOrNan, finite, isInfOrNan), sign);
}

/** Four halves at p (8 bytes) as f32x4. */
@inline export function loadHalf4(p: usize): v128 {
  return halfToF32x4(v128.load16x4_u(p));
}

/** One half at p as f32 (the same bits as a lane of halfToF32x4). */
@inline export function loadHalf1(p: usize): f32 {
  return f32x4.extract_lane(halfToF32x4(i32x4.splat(<i32>load<u16>(p))), 0);
}
