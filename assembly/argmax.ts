// argmax over a row of f32 (greedy sampling).
//
// Ties go to the first index (+0 and -0 tie). NaN counts as larger than every number, as in
// torch.argmax: if the row holds a NaN, the index of the first NaN is returned. n <= 0 gives -1.

export function argmax(x: usize, n: i32): i32 {
  if (n <= 0) return -1;
  // pass 1: the largest value (f32x4.max and Mathf.max give NaN if either side is NaN)
  let best = f32x4.splat(load<f32>(x));
  let i = 0;
  for (; i + 4 <= n; i += 4) best = f32x4.max(best, load<v128>(x + (<usize>i << 2)));
  best = f32x4.max(best, v128.shuffle<f32>(best, best, 2, 3, 0, 1));
  let m = Mathf.max(f32x4.extract_lane(best, 0), f32x4.extract_lane(best, 1));
  for (; i < n; i++) m = Mathf.max(m, load<f32>(x + (<usize>i << 2)));
  // pass 2: its first index
  const isNan = m != m;
  for (let j = 0; j < n; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    if (isNan ? v != v : v == m) return j;
  }
  return 0; // not reached
}
