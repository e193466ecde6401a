// exp(x) on f32x4, and its scalar twin (the same code on one lane, so both give the same bits).
//
// exp(x) = 2^n * exp(r) with n = round(x * log2(e)) and r = x - n*ln2 in [-ln2/2, ln2/2].
// ln2 is split in two (Cody-Waite) so that n*LN2_HI is exact and r keeps its low bits.
// exp(r) is the Taylor series to degree 7: the truncation error is below r^8/8! < 6e-9 relative.
// 2^n is applied as two powers of two that are both normal f32s, so results that are subnormal
// come out right too (rounded once) instead of flushing to zero.
//
// Accuracy: relative error below 1.5e-7 (about 1.3 ulp) for x in [-87.3, 88.7], the range of normal
// results (measured max 1.03e-7 over 3.3e7 points against fp64; tests/kernels/exp.test.ts checks the
// bound). Outside it: exp(x) = +inf for x > 88.73; subnormal, within one subnormal step, for
// x in [-103.97, -87.3]; 0 below. exp(-inf) = 0, exp(+inf) = inf, exp(NaN) = NaN.

const LOG2E: f32 = 1.4426950408889634;
const LN2_HI: f32 = 0.693359375; // 9 significant bits: n*LN2_HI is exact for |n| < 2^15
const LN2_LO: f32 = -2.12194440054e-4; // ln2 - LN2_HI
const X_MAX: f32 = 89.0; // exp(89) overflows to inf already; clamping keeps n in range
const X_MIN: f32 = -104.0; // exp(-104) rounds to 0 already

@inline export function exp4(x: v128): v128 {
  // f32x4.min/max propagate NaN, so NaN flows through to the result
  x = f32x4.min(f32x4.max(x, f32x4.splat(X_MIN)), f32x4.splat(X_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));

  // 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r(1/720 + r/5040))))))
  let p = f32x4.splat(<f32>(1.0 / 5040.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 720.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 120.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 24.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 6.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));

  // 2^n = 2^n1 * 2^n2 with n1, n2 in [-75, 65]: both build as normal f32s from exponent bits
  const ni = i32x4.trunc_sat_f32x4_s(n); // n is in [-150, 129]; NaN gives 0
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** exp of one f32, bit-identical to a lane of exp4. */
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}
