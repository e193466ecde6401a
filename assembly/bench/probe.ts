// Machine probes for the benchmark (compiled on demand by bench/machine.ts; not part of the core):
// the peak f32 SIMD rate of one thread, and streaming read bandwidth.

/** `iterations` rounds of 12 independent f32x4 multiply-adds (registers only); returns a sum so nothing is optimised away. */
export function peak_f32(iterations: i32): f32 {
  const m = f32x4.splat(0.999), c = f32x4.splat(0.001);
  let a0 = f32x4.splat(1), a1 = f32x4.splat(2), a2 = f32x4.splat(3), a3 = f32x4.splat(4);
  let a4 = f32x4.splat(5), a5 = f32x4.splat(6), a6 = f32x4.splat(7), a7 = f32x4.splat(8);
  let a8 = f32x4.splat(9), a9 = f32x4.splat(10), a10 = f32x4.splat(11), a11 = f32x4.splat(12);
  for (let i = 0; i < iterations; i++) {
    a0 = f32x4.add(f32x4.mul(a0, m), c); a1 = f32x4.add(f32x4.mul(a1, m), c);
    a2 = f32x4.add(f32x4.mul(a2, m), c); a3 = f32x4.add(f32x4.mul(a3, m), c);
    a4 = f32x4.add(f32x4.mul(a4, m), c); a5 = f32x4.add(f32x4.mul(a5, m), c);
    a6 = f32x4.add(f32x4.mul(a6, m), c); a7 = f32x4.add(f32x4.mul(a7, m), c);
    a8 = f32x4.add(f32x4.mul(a8, m), c); a9 = f32x4.add(f32x4.mul(a9, m), c);
    a10 = f32x4.add(f32x4.mul(a10, m), c); a11 = f32x4.add(f32x4.mul(a11, m), c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)), f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
  return f32x4.extract_lane(s, 0);
}

/** Read `bytes` (a multiple of 64) from p with v128 loads; returns a checksum. */
export function read_sum(p: usize, bytes: usize): i32 {
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  for (let q = p; q < p + bytes; q += 64) {
    s0 = i32x4.add(s0, load<v128>(q));
    s1 = i32x4.add(s1, load<v128>(q, 16));
    s2 = i32x4.add(s2, load<v128>(q, 32));
    s3 = i32x4.add(s3, load<v128>(q, 48));
  }
  return i32x4.extract_lane(i32x4.add(i32x4.add(s0, s1), i32x4.add(s2, s3)), 0);
}
