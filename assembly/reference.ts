// Entry point of the test build (asconfig.json target `test`, built by tests/util/build-wasm.ts into
// tests/out/, never shipped): every kernel of the shipped module (index.ts), plus the whole-call forms
// the tests hold the range forms and the fast paths to. The runtime calls none of these.
export * from './index';
export { onebit_gemv, onebit_gemm } from './onebit';
export { onebit_fast_gemm, onebit_fast8_gemm } from './onebit_fast';
export { matmul_f32, matmul_f16, matmul_i8 } from './matmul';
export { i8_fast_gemm } from './i8_fast';
export { matmul_q4 } from './q4';
export { q4_fast_gemm } from './q4_fast';
export { conv1d } from './conv1d';
export { scan1 } from './scan_mamba1';
export { scan2, scan2_heads, scan2_heads_bf16 } from './scan_mamba2'; // the runtime runs them inside ssd2_heads
export { gated_rmsnorm } from './norm';
export { silu, exp_vec, dt_softplus } from './activation';
