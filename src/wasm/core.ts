// One instance of the WASM core over its own memory, with its typed kernels and its heap.
import { Heap } from './heap.js';
import { instantiateCore, type WasmSource } from './loader.js';

type Ptr = number;

/** The kernels exported by assembly/index.ts; the ABI is documented in assembly/README.md. */
export interface Kernels {
  heapBase(): Ptr;
  onebit_scratch_bytes(K: number): number;
  onebit_gemv(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, N: number, K: number, scratch: Ptr): void;
  onebit_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, scratch: Ptr): void;
  onebit_lut_token_bytes(K: number): number;
  onebit_lut_scratch_bytes(K: number, T: number): number;
  onebit_lut_prepare(scratch: Ptr, x: Ptr, alpha: Ptr, beta: Ptr, T: number, K: number): void;
  onebit_lut_rows(y: Ptr, bits: Ptr, scratch: Ptr, T: number, N: number, K: number, n0: number, n1: number): void;
  onebit_lut_gemm(y: Ptr, x: Ptr, bits: Ptr, alpha: Ptr, beta: Ptr, T: number, N: number, K: number, scratch: Ptr): void;
  matmul_f32(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number): void;
  matmul_f16(y: Ptr, x: Ptr, w: Ptr, T: number, N: number, K: number): void;
  matmul_i8(y: Ptr, x: Ptr, w: Ptr, scale: Ptr, T: number, N: number, K: number): void;
  add_bias(y: Ptr, b: Ptr, T: number, N: number): void;
  copy_cols(dst: Ptr, src: Ptr, T: number, srcStride: number, col0: number, width: number): void;
  row_f16_to_f32(y: Ptr, src: Ptr, n: number): void;
  row_i8_to_f32(y: Ptr, src: Ptr, scale: number, n: number): void;
  conv1d_step(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, C: number, W: number): void;
  conv1d_seq(y: Ptr, x: Ptr, state: Ptr, w: Ptr, b: Ptr, T: number, C: number, W: number): void;
  scan1_step(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, D: number, N: number): void;
  scan1_seq(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, D: number, N: number): void;
  scan2_step(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, H: number, P: number, N: number, G: number): void;
  scan2_seq(y: Ptr, x: Ptr, dt: Ptr, A: Ptr, B: Ptr, C: Ptr, Dskip: Ptr, h: Ptr, T: number, H: number, P: number, N: number, G: number): void;
  rmsnorm(y: Ptr, x: Ptr, w: Ptr, T: number, D: number, eps: number): void;
  gated_rmsnorm(y: Ptr, x: Ptr, z: Ptr, w: Ptr, T: number, D: number, groupSize: number, eps: number): void;
  silu(y: Ptr, x: Ptr, n: number): void;
  softplus(y: Ptr, x: Ptr, n: number): void;
  exp_vec(y: Ptr, x: Ptr, n: number): void;
  mul_silu(y: Ptr, x: Ptr, z: Ptr, n: number): void;
  add(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  argmax(x: Ptr, n: number): number;
}

export interface Core {
  kernels: Kernels;
  heap: Heap;
  memory: WebAssembly.Memory;
}

export interface CoreOptions {
  /** The WASM core: a precompiled module (required on Cloudflare Workers), bytes, a URL or a path. */
  wasm?: WasmSource;
  /** Cap on this instance's WASM memory in bytes (default and maximum: 4 GiB). */
  maxMemoryBytes?: number;
}

/** Instantiate the core over a fresh memory of its own. */
export async function createCore(options: CoreOptions = {}): Promise<Core> {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const instance = await instantiateCore(options.wasm, memory);
  const kernels = instance.exports as unknown as Kernels;
  const heap = new Heap(memory, kernels.heapBase(), options.maxMemoryBytes);
  return { kernels, heap, memory };
}
