// Zero-sized calls must neither trap nor write anything (K = 0: an empty sum, so zeros).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

describe('zero sizes', () => {
  it('write nothing when there are no tokens, rows or channels', () => {
    const a = wasm.f32(64, 1), b = wasm.f32(64, 1), c = wasm.f32(64, 1), y = wasm.f32(64, 7);
    const s = wasm.alloc(1024);
    const k = wasm.k;
    k.onebit_gemv(y, a, s, b, c, 0, 16, s);
    k.onebit_gemm(y, a, s, b, c, 0, 16, 16, 16, s);
    k.matmul_f32(y, a, b, 0, 4, 4, 4);
    k.matmul_f16(y, a, b, 4, 0, 4, 4);
    k.matmul_i8(y, a, b, c, 0, 0, 4, 4);
    k.conv1d(y, a, b, c, c, 0, 4, 4, 4);
    k.conv1d(y, a, b, c, c, 1, 0, 4, 4);
    k.scan1(y, a, b, c, a, b, c, s, 0, 4, 4, 4);
    k.scan1(y, a, b, c, a, b, c, s, 3, 0, 4, 4);
    k.scan2(y, a, b, c, a, b, c, s, 0, 2, 2, 2, 1, 4, 4);
    k.scan2(y, a, b, c, a, b, c, s, 1, 0, 2, 2, 1, 4, 4);
    k.rmsnorm(y, a, b, 0, 8, 1e-5);
    k.gated_rmsnorm(y, a, b, c, 0, 8, 4, 1e-5, 8);
    k.silu(y, a, 0);
    k.softplus(y, a, 0);
    k.dt_softplus(y, a, b, 0, 4, 4, 0, Infinity);
    k.dt_softplus(y, a, b, 3, 0, 4, 0, Infinity);
    k.exp_vec(y, a, 0);
    k.mul_silu(y, a, b, 0, 4, 4);
    k.mul_silu(y, a, b, 3, 0, 4);
    k.add(y, a, b, 0);
    k.add_bias(y, a, 0, 4);
    k.f16_row_to_f32(y, a, 0);
    k.i8_row_to_f32(y, a, 2, 0);
    expect(Array.from(wasm.read(y, 64))).toEqual(new Array(64).fill(7));
    expect(k.argmax(a, 0)).toBe(-1);
  });

  it('give zeros for an empty dot product (K = 0)', () => {
    const x = wasm.f32(4, 1), w = wasm.f32(4, 1), y = wasm.f32(6, 7);
    wasm.k.matmul_f32(y, x, w, 2, 3, 0, 0);
    expect(Array.from(wasm.read(y, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    const y1 = wasm.f32(5, 7), s = wasm.alloc(64);
    wasm.k.onebit_gemv(y1, x, s, w, w, 5, 0, s);
    expect(Array.from(wasm.read(y1, 5))).toEqual([0, 0, 0, 0, 0]);
  });
});
