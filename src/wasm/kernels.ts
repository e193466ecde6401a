// The kernels exported by the WASM core (assembly/index.ts), as TypeScript sees them: exactly those the
// runtime calls (the reference forms the tests use are in the test build only). Written by hand;
// tests/kernels/exports.test.ts holds them to the module's real exports (names and argument counts)
// and to the names the runtime calls.
// Arguments: pointers are byte offsets into the core's memory, sizes are element counts; the argument
// order and the layouts are in assembly/README.md.

type Ptr = number;

export interface Kernels {
  heap_base(): Ptr;
  onebit_scratch_bytes(K: number, T: number): number;
  onebit_prepare(scratch: Ptr, x: Ptr, alpha: Ptr, beta: Ptr, T: number, K: number, xStride: number): void;
  onebit_rows(y: Ptr, scratch: Ptr, bits: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  onebit_fast_scratch_bytes(K: number, T: number): number;
  onebit_fast_prepare(scratch: Ptr, x: Ptr, alpha: Ptr, beta: Ptr, T: number, K: number, xStride: number): void;
  onebit_fast_rows(y: Ptr, scratch: Ptr, bits: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  onebit_fast8_scratch_bytes(K: number, T: number): number;
  onebit_fast8_prepare(scratch: Ptr, x: Ptr, alpha: Ptr, beta: Ptr, T: number, K: number, xStride: number): void;
  onebit_fast8_rows(y: Ptr, scratch: Ptr, bits: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  f32_rows(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xStride: number, n0: number, n1: number): void;
  f16_rows(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xStride: number, n0: number, n1: number): void;
  i8_rows(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number, n0: number, n1: number): void;
  i8_fast_scratch_bytes(K: number, T: number): number;
  i8_fast_prepare(scratch: Ptr, x: Ptr, T: number, K: number, xStride: number): void;
  i8_fast_rows(y: Ptr, scratch: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  q4_rows(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number, n0: number, n1: number): void;
  q4_fast_rows(y: Ptr, scratch: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  add_bias(y: Ptr, b: Ptr, T: number, N: number): void;
  f16_row_to_f32(y: Ptr, src: Ptr, n: number): void;
  i8_row_to_f32(y: Ptr, src: Ptr, scale: number, n: number): void;
  q4_row_to_f32(y: Ptr, src: Ptr, scale: Ptr, n: number): void;
  conv1d_channels(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, T: number, channels: number, W: number, xStride: number, silu: number, c0: number, c1: number): void;
  scan1_channels(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, channels: number, S: number, bcStride: number, d0: number, d1: number): void;
  scan1_channels_bf16(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, channels: number, S: number, bcStride: number, scratch: Ptr, d0: number, d1: number): void;
  ssd2_heads(y: Ptr, conv: Ptr, xBC: Ptr, convState: Ptr, convW: Ptr, convB: Ptr, dt: Ptr, dtIn: Ptr, dtBias: Ptr, A: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, W: number, inStride: number, lo: number, hi: number, i0: number, i1: number): void;
  ssd2_heads_bf16(y: Ptr, conv: Ptr, xBC: Ptr, convState: Ptr, convW: Ptr, convB: Ptr, dt: Ptr, dtIn: Ptr, dtBias: Ptr, A: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, W: number, inStride: number, lo: number, hi: number, scratch: Ptr, i0: number, i1: number): void;
  rmsnorm(y: Ptr, x: Ptr, w: Ptr, T: number, width: number, eps: number): void;
  gated_rmsnorm_tokens(y: Ptr, x: Ptr, z: Ptr, w: Ptr, T: number, width: number, groupSize: number, eps: number, zStride: number, t0: number, t1: number): void;
  softplus(y: Ptr, x: Ptr, n: number): void;
  mul_silu(y: Ptr, x: Ptr, z: Ptr, T: number, width: number, zStride: number): void;
  add(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  argmax(x: Ptr, n: number): number;
}
