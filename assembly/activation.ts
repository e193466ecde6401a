// Elementwise activations. All may run in place (y == x).
import { exp1, exp4 } from './exp';

/** silu(x) = x / (1 + exp(-x)); for x < -89 this is -0 (the true value is below 1e-36). */
@inline export function silu4(x: v128): v128 {
  return f32x4.div(x, f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

@inline export function silu1(x: f32): f32 {
  return f32x4.extract_lane(silu4(f32x4.splat(x)), 0);
}

export function silu(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) store<v128>(y + (<usize>i << 2), silu4(load<v128>(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), silu1(load<f32>(x + (<usize>i << 2))));
}

/** y[n] = x * silu(z) over one row. */
@inline export function mulSiluRow(y: usize, x: usize, z: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    store<v128>(y + o, f32x4.mul(load<v128>(x + o), silu4(load<v128>(z + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * silu1(load<f32>(z + o)));
  }
}

/**
 * y = x * silu(z) (the Mamba-1 output gate). x, y [T, width]; z rows of `width`, `zStride` floats apart
 * (a view of in_proj's output). May run in place (y == x).
 */
export function mul_silu(y: usize, x: usize, z: usize, T: i32, width: i32, zStride: i32): void {
  const row = <usize>width << 2;
  for (let t = 0; t < T; t++) mulSiluRow(y + <usize>t * row, x + <usize>t * row, z + ((<usize>t * <usize>zStride) << 2), width);
}

/** y = exp(x), with exp4's accuracy (exp.ts). */
export function exp_vec(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) store<v128>(y + (<usize>i << 2), exp4(load<v128>(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), exp1(load<f32>(x + (<usize>i << 2))));
}

const SOFTPLUS_THRESHOLD: f32 = 20; // as PyTorch: above it softplus(x) is x to f32 precision

/**
 * softplus(x) = log(1 + exp(x)), computed as log1p(exp(x)) so that very negative x gives exp(x)
 * (no cancellation), and as x itself above 20. Scalar: it runs on one small row per token.
 */
@inline function softplus1(v: f32): f32 {
  return v > SOFTPLUS_THRESHOLD ? v : Mathf.log1p(exp1(v));
}

export function softplus(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), softplus1(load<f32>(x + (<usize>i << 2))));
}

/**
 * Mamba-2's time step: dt[t,h] = min(max(softplus(x[t,h] + bias[h]), lo), hi). dt [T, H]; x rows of H,
 * `xStride` floats apart (the dt columns of in_proj's output); bias [H]. The model's time_step_limit
 * gives lo and hi (0 and +inf: no clamp; softplus is never below 0).
 */
export function dt_softplus(dt: usize, x: usize, bias: usize, T: i32, H: i32, xStride: i32, lo: f32, hi: f32): void {
  dt_softplus_heads(dt, x, bias, T, H, xStride, lo, hi, 0, H);
}

/** Heads i0 <= i < i1 of dt_softplus (ssd2.ts: a thread's share of a layer's heads). */
export function dt_softplus_heads(dt: usize, x: usize, bias: usize, T: i32, H: i32, xStride: i32, lo: f32, hi: f32, i0: i32, i1: i32): void {
  for (let t = 0; t < T; t++) {
    const xt = x + ((<usize>t * <usize>xStride) << 2);
    const dtt = dt + ((<usize>t * <usize>H) << 2);
    for (let i = i0; i < i1; i++) {
      const o = <usize>i << 2;
      const v = softplus1(load<f32>(xt + o) + load<f32>(bias + o));
      store<f32>(dtt + o, Mathf.min(Mathf.max(v, lo), hi));
    }
  }
}
