// Dequantize one row of a quantized table to f32 (embedding lookup).
import { loadHalf1, loadHalf4 } from './half';

/** y[n] = src[n], src holding IEEE halves. */
export function f16_row_to_f32(y: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) store<v128>(y + (<usize>i << 2), loadHalf4(src + (<usize>i << 1)));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), loadHalf1(src + (<usize>i << 1)));
}

/** y[n] = scale * q[n], q int8. */
export function i8_row_to_f32(y: usize, src: usize, scale: f32, n: i32): void {
  const s = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(src + <usize>i)));
    store<v128>(y + (<usize>i << 2), f32x4.mul(s, f32x4.convert_i32x4_s(q)));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), scale * <f32>load<i8>(src + <usize>i));
}
