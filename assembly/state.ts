// How the scans store the SSM state: f32, or bfloat16 (LoadOptions.stateType = 'bf16'). The scans are
// generic over a type parameter Store (f32, or u16 for bf16) that the compiler resolves: each scan is
// compiled once per storage, with no branch left in its loops.
//
// bf16 is the top 16 bits of an f32: reading one back is a shift or a mask, and writing one rounds the
// f32 to nearest on its 16th bit by adding half a step to the bits (ties, 1 in 65536 values, round away
// from zero; one add instead of the four of ties-to-even, in the loop that bounds the scans' speed).
//
// A bf16 state is rounded once per call, as the call stores it: one token (decoding) runs the bf16
// loops below, which round every new value as they store it; several tokens (prefill) widen the state
// into f32 scratch (widenBf16), run the f32 loop over all of them and round once at the end
// (narrowToBf16), which keeps prefill at the f32 loop's speed (the state is in cache there, and the
// bf16 loop does more per value). The range is f32's (no overflow where f32 has none);
// the precision is 8 significant bits. Arithmetic stays f32: a scan loads the state, computes in f32
// and rounds once as it stores. NaN stays NaN for the quiet NaNs that arithmetic produces.
//
// Eight bf16 (16 bytes) unpack for free into their even-indexed values (the low half of each 32-bit
// lane, shifted up) and their odd-indexed ones (the high half, masked): the bf16 loops work on values
// n, n+2, n+4, n+6 and n+1, n+3, n+5, n+7 of a row, with B and C read in the same order (evens, odds).

/** Values 0, 2, 4, 6 of eight f32 given as two vectors [0..3], [4..7]. */
@inline export function evens(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 0, 2, 4, 6);
}

/** Values 1, 3, 5, 7. */
@inline export function odds(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(a, b, 1, 3, 5, 7);
}

/** Values 0, 2, 4, 6 of eight bf16 (one vector) as f32. */
@inline export function bf16Evens(r: v128): v128 {
  return i32x4.shl(r, 16);
}

/** Values 1, 3, 5, 7 of eight bf16 as f32. */
@inline export function bf16Odds(r: v128): v128 {
  return v128.and(r, i32x4.splat(0xffff0000));
}

/** f32 lanes rounded to bf16 (nearest, ties away from zero), left in the top half of each lane. */
@inline function roundToBf16(v: v128): v128 {
  return i32x4.add(v, i32x4.splat(0x8000));
}

/** Eight bf16 from their even values `e` and odd values `o` (f32), rounded: the inverse of bf16Evens/bf16Odds. */
@inline export function toBf16x8(e: v128, o: v128): v128 {
  return v128.or(i32x4.shr_u(roundToBf16(e), 16), v128.and(roundToBf16(o), i32x4.splat(0xffff0000)));
}

/** Where a row's SIMD part ends: f32 runs four values a step, bf16 eight. */
@inline export function simdEnd<Store>(S: i32): i32 {
  return sizeof<Store>() == 4 ? S & ~3 : S & ~7;
}

/** One state value at p as f32. */
@inline export function loadState<Store>(p: usize): f32 {
  if (sizeof<Store>() == 4) return load<f32>(p);
  return reinterpret<f32>(<i32>load<u16>(p) << 16);
}

/** Store one state value at p (bf16: rounded as toBf16x8 rounds). */
@inline export function storeState<Store>(p: usize, v: f32): void {
  if (sizeof<Store>() == 4) {
    store<f32>(p, v);
    return;
  }
  store<u16>(p, <u16>((reinterpret<u32>(v) + 0x8000) >> 16));
}

/** n bf16 at src widened to f32 at dst (natural order). */
export function widenBf16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const r = load<v128>(src + (<usize>i << 1));
    store<v128>(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(r), 16));
    store<v128>(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(r), 16), 16);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), loadState<u16>(src + (<usize>i << 1)));
}

/** n f32 at src rounded to bf16 at dst, as storeState rounds. */
export function narrowToBf16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = roundToBf16(load<v128>(src + (<usize>i << 2))), b = roundToBf16(load<v128>(src + (<usize>i << 2), 16));
    store<v128>(dst + (<usize>i << 1), i8x16.shuffle(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
  }
  for (; i < n; i++) storeState<u16>(dst + (<usize>i << 1), load<f32>(src + (<usize>i << 2)));
}
