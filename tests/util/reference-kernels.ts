// The kernels of the test build beyond the shipped ones (assembly/reference.ts): the whole-call forms the
// tests hold the range forms and the fast paths to. Written by hand, as src/wasm/kernels.ts;
// tests/kernels/exports.test.ts holds them to the test build's real exports.
import type { Kernels } from '../../src/wasm/kernels.js';

type Ptr = number;

export interface ReferenceKernels extends Kernels {
  onebit_gemv(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, N: number, K: number, scratch: Ptr): void;
  onebit_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, xStride: number, scratch: Ptr): void;
  onebit_fast_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, xStride: number, scratch: Ptr): void;
  onebit_fast8_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, xStride: number, scratch: Ptr): void;
  matmul_f32(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xStride: number): void;
  matmul_f16(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number, xStride: number): void;
  matmul_i8(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number): void;
  i8_fast_gemm(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number, scratch: Ptr): void;
  matmul_q4(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number): void;
  q4_fast_gemm(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number, xStride: number, scratch: Ptr): void;
  conv1d(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, T: number, channels: number, W: number, xStride: number): void;
  scan1(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, channels: number, S: number, bcStride: number): void;
  scan2(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, xStride: number, bcStride: number): void;
  gated_rmsnorm(y: Ptr, x: Ptr, z: Ptr, w: Ptr, T: number, width: number, groupSize: number, eps: number, zStride: number): void;
  silu(y: Ptr, x: Ptr, n: number): void;
  scan2_heads(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, xStride: number, bcStride: number, i0: number, i1: number): void;
  scan2_heads_bf16(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, S: number, G: number, xStride: number, bcStride: number, scratch: Ptr, i0: number, i1: number): void;
  dt_softplus(dt: Ptr, x: Ptr, bias: Ptr, T: number, H: number, xStride: number, lo: number, hi: number): void;
  exp_vec(y: Ptr, x: Ptr, n: number): void;
}
