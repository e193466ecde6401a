// Entry point of the WASM module: re-exports every kernel. See assembly/README.md for the ABI.
export { onebit_scratch_bytes, onebit_gemv, onebit_gemm } from './onebit';
export { onebit_fast_scratch_bytes, onebit_fast_prepare, onebit_fast_rows, onebit_fast_gemm } from './onebit_fast';
export { matmul_f32, matmul_f16, matmul_i8, matmul_f32_rows, matmul_f16_rows, matmul_i8_rows } from './matmul';
export { i8_fast_scratch_bytes, i8_fast_prepare, i8_fast_rows, i8_fast_gemm } from './i8_fast';
export { row_f16_to_f32, row_i8_to_f32 } from './dequant';
export { add, add_bias } from './elementwise';
export { conv1d, conv1d_channels } from './conv1d';
export { scan1, scan1_channels, scan1_channels_bf16 } from './scan_mamba1';
export { scan2, scan2_heads, scan2_heads_bf16 } from './scan_mamba2';
export { rmsnorm, gated_rmsnorm, gated_rmsnorm_rows } from './norm';
export { silu, softplus, dt_softplus, exp_vec, mul_silu } from './activation';
export { argmax } from './argmax';

export function heapBase(): usize {
  return __heap_base;
}
