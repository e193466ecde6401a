// Elementwise adds.

/** y = a + b over n f32s; may run in place. */
export function add(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    store<v128>(y + o, f32x4.add(load<v128>(a + o), load<v128>(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** y[t,n] += b[n]; y [T, N], b [N]. */
export function add_bias(y: usize, b: usize, T: i32, N: i32): void {
  const row = <usize>N << 2;
  for (let t = 0; t < T; t++) add(y + <usize>t * row, y + <usize>t * row, b, N);
}
