// Causal depthwise conv1d (Mamba's short convolution), one token or a sequence.
//
//   y[t,c] = Σ_j w[c,j] * in[t - (W-1) + j, c] + b[c],   j = 0..W-1
//
// where in[s] is x[s] for s >= 0 and, before the first token, the saved inputs:
// state[c, W-1+s] (the state holds each channel's last W-1 inputs, oldest first).
// After the call the state holds the last W-1 inputs seen. Scalar: W is tiny (4) and the
// state is channel-major, so there is no contiguous run to vectorise.

/** Input s of channel c: x for s >= 0, the saved state for s < 0. */
@inline function inputAt(x: usize, state: usize, s: i32, c: i32, C: i32, W: i32): f32 {
  return s >= 0
    ? load<f32>(x + ((<usize>s * <usize>C + <usize>c) << 2))
    : load<f32>(state + ((<usize>c * <usize>(W - 1) + <usize>(W - 1 + s)) << 2));
}

/** x, y [T, C]; w [C, W]; b [C]; state [C, W-1], read then updated. */
export function conv1d_seq(y: usize, x: usize, state: usize, w: usize, b: usize, T: i32, C: i32, W: i32): void {
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      const wRow = w + ((<usize>c * <usize>W) << 2);
      let acc: f32 = 0;
      for (let j = 0; j < W; j++) acc += load<f32>(wRow + (<usize>j << 2)) * inputAt(x, state, t - (W - 1) + j, c, C, W);
      store<f32>(y + ((<usize>t * <usize>C + <usize>c) << 2), acc + load<f32>(b + (<usize>c << 2)));
    }
  }
  // the new state: the last W-1 inputs, oldest first. Entry j is input T-(W-1)+j, which is either an
  // input of this call or an older state entry further right, so going left to right is safe in place.
  for (let c = 0; c < C; c++) {
    for (let j = 0; j < W - 1; j++) {
      store<f32>(state + ((<usize>c * <usize>(W - 1) + <usize>j) << 2), inputAt(x, state, T - (W - 1) + j, c, C, W));
    }
  }
}

/** One token: x, y [C]. */
export function conv1d_step(y: usize, x: usize, state: usize, w: usize, b: usize, C: i32, W: i32): void {
  conv1d_seq(y, x, state, w, b, 1, C, W);
}
