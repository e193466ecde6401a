// The WASM core for tests: instantiate the test build (the shipped kernels and the reference forms,
// assembly/reference.ts) and move data in and out of its memory.
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { createCore, type Core } from '../../src/wasm/core.js';
import { relaxedSimdSupported } from '../../src/wasm/loader.js';
import type { ReferenceKernels } from './reference-kernels.js';

const GUARD_BYTES = 64;

/** The built cores (npm run build:wasm; the test setup builds them when stale). */
export const WASM_URL = new URL('../../dist/bimamba.wasm', import.meta.url);
export const WASM = fileURLToPath(WASM_URL);
export const WASM_THREADS = fileURLToPath(new URL('../../dist/bimamba-threads.wasm', import.meta.url));
/** The shipped builds: SIMD128, relaxed SIMD, threads, threads + relaxed. */
export const WASM_BUILDS = {
  release: WASM,
  relaxed: fileURLToPath(new URL('../../dist/bimamba-relaxed.wasm', import.meta.url)),
  threads: WASM_THREADS,
  'threads-relaxed': fileURLToPath(new URL('../../dist/bimamba-threads-relaxed.wasm', import.meta.url)),
} as const;
/** Let this process run the relaxed-SIMD builds (Node 20 validates relaxed SIMD only behind a flag); true if it can. */
export function enableRelaxedSimd(): boolean {
  if (!relaxedSimdSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return relaxedSimdSupported();
}
/** The test build (tests/util/build-wasm.ts): every shipped kernel plus the reference forms, never shipped. */
export const TEST_WASM_URL = new URL('../out/wasm/bimamba-test.wasm', import.meta.url);

/** A core over its own memory, plus helpers that copy typed arrays to and from it. */
export class TestCore {
  readonly core: Core;
  readonly k: ReferenceKernels;

  constructor(core: Core) {
    this.core = core;
    this.k = core.kernels as ReferenceKernels;
  }

  /**
   * Allocate and fill with a copy of `data` (any typed array); returns the address. The 64 bytes
   * after the data are 0xff (NaN as f32), so a kernel that reads past its input shows it.
   */
  put(data: Float32Array | Uint8Array | Int8Array | Uint16Array): number {
    const ptr = this.core.heap.alloc(data.byteLength + GUARD_BYTES);
    this.bytes(ptr + data.byteLength, GUARD_BYTES).fill(0xff);
    this.bytes(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }

  /**
   * `data` [rows, width] placed as a view into a wider buffer whose rows are `stride` floats apart, at
   * column `col0`; every other column is NaN, so a kernel that reads outside the view shows it.
   * Returns the address of the view's first element.
   */
  putStrided(data: Float32Array, width: number, stride: number, col0 = 0): number {
    const rows = width === 0 ? 0 : data.length / width;
    const wide = new Float32Array(Math.max(1, rows) * stride).fill(NaN);
    for (let r = 0; r < rows; r++) wide.set(data.subarray(r * width, (r + 1) * width), r * stride + col0);
    return this.put(wide) + 4 * col0;
  }

  /** Allocate n f32, filled with `value` (NaN by default, so unwritten outputs show). */
  f32(n: number, value = NaN): number {
    const ptr = this.core.heap.alloc(Math.max(4 * n, 1));
    this.core.heap.f32(ptr, n).fill(value);
    return ptr;
  }

  /** Allocate raw bytes, filled with `value`. */
  alloc(bytes: number, value = 0xa5): number {
    const ptr = this.core.heap.alloc(Math.max(bytes, 1));
    this.bytes(ptr, bytes).fill(value);
    return ptr;
  }

  /** A copy of n f32 at ptr. */
  read(ptr: number, n: number): Float32Array {
    return this.core.heap.f32(ptr, n).slice();
  }

  /** Overwrite n f32 at ptr with `data`. */
  write(ptr: number, data: Float32Array): void {
    this.core.heap.f32(ptr, data.length).set(data);
  }

  /**
   * The argmax kernel over a JS array, copied into this core's memory: the sampler's `Argmax` for tests
   * that sample from logits of their own (the runtime's lie in the model's memory already).
   */
  readonly argmax = (x: Float32Array): number => {
    if (x.length > this.argmaxFloats) {
      if (this.argmaxFloats) this.core.heap.release(this.argmaxBuffer);
      this.argmaxBuffer = this.core.heap.alloc(4 * x.length);
      this.argmaxFloats = x.length;
    }
    this.write(this.argmaxBuffer, x);
    return this.k.argmax(this.argmaxBuffer, x.length);
  };

  private argmaxBuffer = 0;
  private argmaxFloats = 0;

  private bytes(ptr: number, n: number): Uint8Array {
    return this.core.heap.u8(ptr, n);
  }
}

/** The test build over a memory of its own (`wasm`: another build, e.g. one of WASM_BUILDS' single-thread ones). */
export async function loadCore(wasm: URL | string = TEST_WASM_URL): Promise<TestCore> {
  return new TestCore(await createCore({ wasm, threads: 1 }));
}
