// A linear layer `y[T,N] = x[T,K] W^T (+ bias)` in whichever storage the file chose: f32, f16, int8 rows,
// or Bi-Mamba's 1-bit signs with column-wise scale and shift.
import type { Kernels } from '../wasm/core.js';

type Ptr = number;

export type Projection =
  | { kind: 'f32' | 'f16'; N: number; K: number; w: Ptr; bias: Ptr }
  | { kind: 'i8'; N: number; K: number; w: Ptr; scale: Ptr; bias: Ptr }
  | { kind: 'onebit'; N: number; K: number; bits: Ptr; alpha: Ptr; beta: Ptr; bias: Ptr };

/**
 * y[T, N] = x[T, K] · W^T (+ bias). `scratch` must hold `onebit_scratch_bytes(K)` bytes for 1-bit layers.
 * A bias pointer of 0 means no bias. `k` is the model's kernel set (src/wasm/kernel-set.ts): on the fast
 * path its 1-bit and int8 kernels are the lookup-table ones (with their own scratch), and with threads
 * the big kernels split their rows between them.
 */
export function project(k: Kernels, p: Projection, y: Ptr, x: Ptr, T: number, scratch: Ptr): void {
  switch (p.kind) {
    case 'f32': k.matmul_f32(y, x, p.w, T, p.N, p.K); break;
    case 'f16': k.matmul_f16(y, x, p.w, T, p.N, p.K); break;
    case 'i8': k.matmul_i8(y, x, p.w, p.scale, T, p.N, p.K); break;
    case 'onebit':
      if (T === 1) k.onebit_gemv(y, x, p.bits, p.alpha, p.beta, p.N, p.K, scratch);
      else k.onebit_gemm(y, x, p.bits, p.alpha, p.beta, T, p.N, p.K, scratch);
      break;
  }
  if (p.bias) k.add_bias(y, p.bias, T, p.N);
}
