// RMSNorm and Mamba-2's gated, grouped RMSNorm. Both may run in place (y == x).
import { sumSquares } from './simd';
import { mul_silu } from './activation';

/** y[D] = x[D] * (1 / sqrt(mean(x²) + eps)) * w[D] for one row. */
@inline function normalizeRow(y: usize, x: usize, w: usize, D: i32, eps: f32): void {
  const scale = f32x4.splat(<f32>1 / Mathf.sqrt(sumSquares(x, D) / <f32>D + eps));
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    store<v128>(y + o, f32x4.mul(f32x4.mul(load<v128>(x + o), scale), load<v128>(w + o)));
  }
  const s = f32x4.extract_lane(scale, 0);
  for (; i < D; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * s * load<f32>(w + o));
  }
}

/** Per token: y = x / sqrt(mean(x²) + eps) * w. x, y [T, D]; w [D]. */
export function rmsnorm(y: usize, x: usize, w: usize, T: i32, D: i32, eps: f32): void {
  const row = <usize>D << 2;
  for (let t = 0; t < T; t++) normalizeRow(y + <usize>t * row, x + <usize>t * row, w, D, eps);
}

/**
 * Per token: u = x * silu(z), then RMSNorm of u over each group of `groupSize` channels, times w.
 * x, z, y [T, D]; w [D]; D a multiple of groupSize. u is built in y, then normalised there.
 */
export function gated_rmsnorm(y: usize, x: usize, z: usize, w: usize, T: i32, D: i32, groupSize: i32, eps: f32): void {
  mul_silu(y, x, z, T * D);
  const groups = T * (D / groupSize); // the groups of all tokens are consecutive rows of groupSize
  const groupBytes = <usize>groupSize << 2;
  const perToken = D / groupSize;
  for (let g = 0; g < groups; g++) {
    const yg = y + <usize>g * groupBytes;
    normalizeRow(yg, yg, w + <usize>(g % perToken) * groupBytes, groupSize, eps);
  }
}
