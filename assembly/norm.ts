// RMSNorm and Mamba-2's gated, grouped RMSNorm. Both may run in place (y == x).
import { sumSquares } from './simd';
import { mulSiluRow } from './activation';

/** y[width] = x * (1 / sqrt(mean(x²) + eps)) * w for one row. */
@inline function normalizeRow(y: usize, x: usize, w: usize, width: i32, eps: f32): void {
  const scale = f32x4.splat(<f32>1 / Mathf.sqrt(sumSquares(x, width) / <f32>width + eps));
  let i = 0;
  for (; i + 4 <= width; i += 4) {
    const o = <usize>i << 2;
    store<v128>(y + o, f32x4.mul(f32x4.mul(load<v128>(x + o), scale), load<v128>(w + o)));
  }
  const s = f32x4.extract_lane(scale, 0);
  for (; i < width; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * s * load<f32>(w + o));
  }
}

/** Per token: y = x / sqrt(mean(x²) + eps) * w. x, y [T, width]; w [width]. */
export function rmsnorm(y: usize, x: usize, w: usize, T: i32, width: i32, eps: f32): void {
  const row = <usize>width << 2;
  for (let t = 0; t < T; t++) normalizeRow(y + <usize>t * row, x + <usize>t * row, w, width, eps);
}

/**
 * Per token: u = x * silu(z), then RMSNorm of u over each group of `groupSize` channels, times w.
 * x, y [T, width]; z rows of `width`, `zStride` floats apart (a view of in_proj's output); w [width];
 * width a multiple of groupSize. u is built in y, then normalised there.
 */
export function gated_rmsnorm(y: usize, x: usize, z: usize, w: usize, T: i32, width: i32, groupSize: i32, eps: f32, zStride: i32): void {
  gated_rmsnorm_tokens(y, x, z, w, T, width, groupSize, eps, zStride, 0, T);
}

/** Tokens t0 <= t < t1 of gated_rmsnorm (for splitting tokens between threads). */
export function gated_rmsnorm_tokens(y: usize, x: usize, z: usize, w: usize, T: i32, width: i32, groupSize: i32, eps: f32, zStride: i32, t0: i32, t1: i32): void {
  const row = <usize>width << 2;
  const groupBytes = <usize>groupSize << 2;
  const groups = width / groupSize;
  for (let t = t0; t < t1; t++) {
    const yt = y + <usize>t * row;
    mulSiluRow(yt, x + <usize>t * row, z + ((<usize>t * <usize>zStride) << 2), width);
    for (let g = 0; g < groups; g++) {
      const yg = yt + <usize>g * groupBytes;
      normalizeRow(yg, yg, w + <usize>g * groupBytes, groupSize, eps);
    }
  }
}
