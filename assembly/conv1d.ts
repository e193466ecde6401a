// Causal depthwise conv1d (Mamba's short convolution) over T tokens (T = 1: one decoding step).
//
//   y[t,c] = Σ_j w[c,j] * in[t - (W-1) + j, c] + b[c],   j = 0..W-1
//
// where in[s] is x[s] for s >= 0 and, before the first token, the saved inputs:
// state[c, W-1+s] (the state holds each channel's last W-1 inputs, oldest first).
// After the call the state holds the last W-1 inputs seen.
//
// Every output is summed in the same order, acc = 0, acc += w[c,j] * in[j] for j = 0..W-1, then
// + b[c], whichever path computes it:
//  - W = 4 (Mamba's width), four channels at a time, a channel per lane: the window of the last
//    inputs slides along t in registers;
//  - any other W, or the last channels % 4 channels: one channel at a time.
// Channels are independent, so a range of them (conv1d_channels) gives the bits of the whole call.

import { silu1, silu4 } from './activation';

/** Input s of channel c: x for s >= 0 (rows xStride floats apart), the saved state for s < 0. */
@inline function inputAt(x: usize, xStride: i32, state: usize, s: i32, c: i32, W: i32): f32 {
  return s >= 0
    ? load<f32>(x + ((<usize>s * <usize>xStride + <usize>c) << 2))
    : load<f32>(state + ((<usize>c * <usize>(W - 1) + <usize>(W - 1 + s)) << 2));
}

/** Channels c0 <= c < c1 one at a time, any W. */
function convScalar(y: usize, x: usize, state: usize, w: usize, b: usize, T: i32, channels: i32, W: i32, xStride: i32, silu: bool, c0: i32, c1: i32): void {
  for (let t = 0; t < T; t++) {
    for (let c = c0; c < c1; c++) {
      const wRow = w + ((<usize>c * <usize>W) << 2);
      let acc: f32 = 0;
      for (let j = 0; j < W; j++) acc += load<f32>(wRow + (<usize>j << 2)) * inputAt(x, xStride, state, t - (W - 1) + j, c, W);
      const out = acc + load<f32>(b + (<usize>c << 2));
      store<f32>(y + ((<usize>t * <usize>channels + <usize>c) << 2), silu ? silu1(out) : out);
    }
  }
  // the new state: the last W-1 inputs, oldest first. Entry j is input T-(W-1)+j, which is either an
  // input of this call or an older state entry further right, so going left to right is safe in place.
  for (let c = c0; c < c1; c++) {
    for (let j = 0; j < W - 1; j++) {
      store<f32>(state + ((<usize>c * <usize>(W - 1) + <usize>j) << 2), inputAt(x, xStride, state, T - (W - 1) + j, c, W));
    }
  }
}

/** W = 4, channels c0 <= c < c1 (c1 - c0 a multiple of 4), four at a time. */
function conv4(y: usize, x: usize, state: usize, w: usize, b: usize, T: i32, channels: i32, xStride: i32, silu: bool, c0: i32, c1: i32): void {
  const yRowBytes = <usize>channels << 2;
  const xRowBytes = <usize>xStride << 2;
  for (let c = c0; c + 4 <= c1; c += 4) {
    // weights of channels c..c+3 (rows of 4), transposed: wj holds tap j of the 4 channels
    const r0 = load<v128>(w + (<usize>c << 4)), r1 = load<v128>(w + (<usize>c << 4), 16);
    const r2 = load<v128>(w + (<usize>c << 4), 32), r3 = load<v128>(w + (<usize>c << 4), 48);
    const t01lo = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t01hi = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
    const t23lo = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t23hi = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
    const w0 = v128.shuffle<f32>(t01lo, t23lo, 0, 1, 4, 5), w1 = v128.shuffle<f32>(t01lo, t23lo, 2, 3, 6, 7);
    const w2 = v128.shuffle<f32>(t01hi, t23hi, 0, 1, 4, 5), w3 = v128.shuffle<f32>(t01hi, t23hi, 2, 3, 6, 7);
    const bias = load<v128>(b + (<usize>c << 2));
    const zero = f32x4.splat(0);
    // the state of 4 channels is 12 floats, 3 per channel: gather the window in0 (oldest) .. in2
    const s = state + <usize>c * 12;
    const v0 = load<v128>(s), v1 = load<v128>(s, 16), v2 = load<v128>(s, 32);
    let in0 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 0, 3, 6, 6), v2, 0, 1, 2, 5);
    let in1 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 1, 4, 7, 7), v2, 0, 1, 2, 6);
    let in2 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 2, 5, 5, 5), v2, 0, 1, 4, 7);
    for (let t = 0; t < T; t++) {
      const in3 = load<v128>(x + <usize>t * xRowBytes + (<usize>c << 2));
      let acc = f32x4.add(zero, f32x4.mul(w0, in0)); // 0 + w0 * in0, as the scalar path (0 + -0 is +0)
      acc = f32x4.add(acc, f32x4.mul(w1, in1));
      acc = f32x4.add(acc, f32x4.mul(w2, in2));
      acc = f32x4.add(acc, f32x4.mul(w3, in3));
      const out = f32x4.add(acc, bias);
      store<v128>(y + <usize>t * yRowBytes + (<usize>c << 2), silu ? silu4(out) : out);
      in0 = in1;
      in1 = in2;
      in2 = in3;
    }
    // the new state: the window, channel by channel
    store<v128>(s, v128.shuffle<f32>(v128.shuffle<f32>(in0, in1, 0, 4, 1, 1), in2, 0, 1, 4, 2));
    store<v128>(s, v128.shuffle<f32>(v128.shuffle<f32>(in0, in1, 5, 2, 6, 6), in2, 0, 5, 1, 2), 16);
    store<v128>(s, v128.shuffle<f32>(v128.shuffle<f32>(in0, in1, 7, 3, 3, 3), in2, 6, 1, 0, 7), 32);
  }
}

/**
 * Channels c0 <= c < c1 of conv1d (for splitting channels between threads; c0 a multiple of 4), then
 * silu of the outputs if `silu` (Mamba's activation after the conv, the same bits as the silu kernel).
 */
export function conv1d_channels(y: usize, x: usize, state: usize, w: usize, b: usize, T: i32, channels: i32, W: i32, xStride: i32, silu: bool, c0: i32, c1: i32): void {
  if (W == 4) {
    const c4 = c0 + ((c1 - c0) & ~3);
    conv4(y, x, state, w, b, T, channels, xStride, silu, c0, c4);
    convScalar(y, x, state, w, b, T, channels, W, xStride, silu, c4, c1);
  } else {
    convScalar(y, x, state, w, b, T, channels, W, xStride, silu, c0, c1);
  }
}

/**
 * y [T, channels] (contiguous); x rows of `channels` inputs, `xStride` floats apart (a view of a wider
 * projection); w [channels, W]; b [channels]; state [channels, W-1], read then updated. T = 1 is one
 * decoding step.
 */
export function conv1d(y: usize, x: usize, state: usize, w: usize, b: usize, T: i32, channels: i32, W: i32, xStride: i32): void {
  conv1d_channels(y, x, state, w, b, T, channels, W, xStride, false, 0, channels);
}
