// Per-block quantization of activations, shared by the two fast paths (onebit_fast.ts, i8_fast.ts).
//
// A token's row is split into blocks of BLOCK_COLS columns. In block b every value v becomes the
// integer q = round(v / step_b), half to even, with step_b = max|v in b| / levels, so |q| <= levels.
// The paths differ only in `levels` (2047 for 1-bit layers, 32767 for int8 ones) and in what they do
// with q. A block whose largest |v| is below MIN_BLOCK_MAX counts as zero (levels / max would
// overflow for the tiniest ones); NaN or inf in a block gives it a step that carries NaN to the
// outputs (its q are then meaningless).

export const BLOCK_COLS: i32 = 256;
const MIN_BLOCK_MAX: f32 = 7.888609052210118e-31; // 2^-100

/** K rounded up to a multiple of 8: the columns of the 1-bit tile layout, and of the quantized rows. */
@inline export function paddedK(K: i32): i32 {
  return (K + 7) & ~7;
}

/** Blocks of BLOCK_COLS columns in a row of K (the last may be shorter). */
@inline export function blockCount(K: i32): i32 {
  return (K + BLOCK_COLS - 1) / BLOCK_COLS;
}

/** v[k] = alpha[k] * x[k] for the 4 columns from k (all real); alpha 0 means no scale: v = x. */
@inline export function values4(x: usize, alpha: usize, k: i32): v128 {
  const o = <usize>k << 2;
  const xv = load<v128>(x + o);
  return alpha ? f32x4.mul(load<v128>(alpha + o), xv) : xv;
}

/** v[k] for one column, 0 at k >= K (padding); alpha 0 means no scale. */
@inline export function value1(x: usize, alpha: usize, k: i32, K: i32): f32 {
  if (k >= K) return 0;
  const o = <usize>k << 2;
  return alpha ? load<f32>(alpha + o) * load<f32>(x + o) : load<f32>(x + o);
}

/** max |v[k]| over columns k0..k1-1. NaN anywhere gives NaN (f32x4.max and Mathf.max propagate it). */
function absMax(x: usize, alpha: usize, k0: i32, k1: i32): f32 {
  let m = f32x4.splat(0);
  let k = k0;
  for (; k + 4 <= k1; k += 4) m = f32x4.max(m, f32x4.abs(values4(x, alpha, k)));
  let s = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (; k < k1; k++) s = Mathf.max(s, Mathf.abs(value1(x, alpha, k, k1)));
  return s;
}

/**
 * The quantization of block k0..k1-1 of v = alpha * x (alpha 0: v = x) to integers in [-levels, levels]:
 * stores step_b at `step` and returns levels / max|v|, the factor that takes v to q before rounding (0
 * for a block that counts as zero or holds inf).
 */
export function quantizeBlock(x: usize, alpha: usize, k0: i32, k1: i32, levels: f32, step: usize): f32 {
  const amax = absMax(x, alpha, k0, k1);
  const tiny = amax < MIN_BLOCK_MAX;
  store<f32>(step, tiny ? 0 : amax / levels);
  return tiny || amax == f32.POSITIVE_INFINITY ? 0 : levels / amax;
}
