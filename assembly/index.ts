// Entry point of the shipped WASM module: exactly the kernels the runtime calls (src/wasm/kernel-set.ts;
// tests/kernels/exports.test.ts holds the two to each other). The whole-call reference forms the tests
// compare against are in reference.ts, built for the tests only. See assembly/README.md for the ABI.
export { onebit_scratch_bytes, onebit_prepare, onebit_rows } from './onebit';
export { onebit_fast_scratch_bytes, onebit_fast_prepare, onebit_fast_rows } from './onebit_fast';
export { onebit_fast8_scratch_bytes, onebit_fast8_prepare, onebit_fast8_rows } from './onebit_fast';
export { f32_rows, f16_rows, i8_rows } from './matmul';
export { i8_fast_scratch_bytes, i8_fast_prepare, i8_fast_rows } from './i8_fast';
export { q4_rows, q4_row_to_f32 } from './q4';
export { q4_fast_rows } from './q4_fast';
export { f16_row_to_f32, i8_row_to_f32 } from './dequant';
export { add, add_bias } from './elementwise';
export { conv1d_channels } from './conv1d';
export { scan1_channels, scan1_channels_bf16 } from './scan_mamba1';
export { ssd2_heads, ssd2_heads_bf16 } from './ssd2';
export { rmsnorm, gated_rmsnorm_tokens } from './norm';
export { softplus, mul_silu } from './activation';
export { argmax } from './argmax';

export function heap_base(): usize {
  return __heap_base;
}
