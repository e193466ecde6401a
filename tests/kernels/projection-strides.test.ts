// Every projection kernel reads its input x as a view: rows `xStride` floats apart (as Mamba-1's dt_proj
// reads the dt_low columns of x_proj's output). A view must give the bits of the same rows laid out
// contiguously (those are held to float64 references in matmul.test.ts, onebit.test.ts and tests/fast),
// and reading a column outside the view would show as NaN (putStrided fills the rest with NaN).
import { beforeAll, describe, expect, it } from 'vitest';
import { packSigns } from '../../src/format/onebit.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

// [T, N, K, extra columns]: awkward sizes, K below and above one 256-column block, whole 16-token batches
const shapes: [number, number, number, number][] = [[1, 5, 13, 3], [3, 17, 37, 5], [5, 33, 100, 1], [16, 16, 300, 7], [19, 20, 8, 9]];

describe('projections with strided x', () => {
  for (const [T, N, K, extra] of shapes) {
    const stride = K + extra;
    it(`T=${T} N=${N} K=${K}, rows ${stride} apart: every kernel gives the contiguous bits`, () => {
      const rng = new Rng(T * 1000 + N * 10 + K);
      const x = rng.f32(T * K);
      const xc = wasm.put(x), xv = wasm.putStrided(x, K, stride, extra);
      const wf = wasm.put(rng.f32(N * K));
      const wh = wasm.put(new Uint16Array(N * K).map(() => rng.int(0x3000, 0x3c00) | (rng.next() < 0.5 ? 0x8000 : 0)));
      const wi = wasm.put(new Int8Array(N * K).map(() => rng.int(-128, 128)));
      const scale = wasm.put(rng.f32(N, () => rng.uniform(0.01, 0.1)));
      const signs = new Int8Array(N * K).map(() => (rng.next() < 0.5 ? -1 : 1));
      const bits = wasm.put(packSigns(N, K, (n, k) => signs[n * K + k] > 0));
      const alpha = wasm.put(rng.f32(K, () => rng.uniform(0.2, 1.5))), beta = wasm.put(rng.f32(K, () => 0.1 * rng.normal()));
      const tables = wasm.alloc(wasm.k.onebit_scratch_bytes(K, 1));
      const tablesFast = wasm.alloc(wasm.k.onebit_fast_scratch_bytes(K, T)), i8q = wasm.alloc(wasm.k.i8_fast_scratch_bytes(K, T));
      const runs: [string, (y: number, x: number, xStride: number) => void][] = [
        ['matmul_f32', (y, x, s) => wasm.k.matmul_f32(y, x, wf, T, N, K, s)],
        ['matmul_f16', (y, x, s) => wasm.k.matmul_f16(y, x, wh, T, N, K, s)],
        ['matmul_i8', (y, x, s) => wasm.k.matmul_i8(y, x, wi, scale, T, N, K, s)],
        ['i8_fast_gemm', (y, x, s) => wasm.k.i8_fast_gemm(y, x, wi, scale, T, N, K, s, i8q)],
        ['onebit_gemm', (y, x, s) => wasm.k.onebit_gemm(y, x, bits, alpha, beta, T, N, K, s, tables)],
        ['onebit_fast_gemm', (y, x, s) => wasm.k.onebit_fast_gemm(y, x, bits, alpha, beta, T, N, K, s, tablesFast)],
      ];
      for (const [name, run] of runs) {
        const yc = wasm.f32(T * N), yv = wasm.f32(T * N);
        run(yc, xc, K);
        run(yv, xv, stride);
        const want = wasm.read(yc, T * N);
        expect(want.every(Number.isFinite), name).toBe(true);
        expect(wasm.read(yv, T * N), name).toEqual(want);
      }
      // and the f32 one against float64 directly
      const y = wasm.f32(T * N);
      wasm.k.matmul_f32(y, xv, wf, T, N, K, stride);
      const w = wasm.read(wf, N * K), out = wasm.read(y, T * N);
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          let s = 0, size = 0;
          for (let k = 0; k < K; k++) { s += x[t * K + k] * w[n * K + k]; size += Math.abs(x[t * K + k] * w[n * K + k]); }
          expect(Math.abs(out[t * N + n] - s)).toBeLessThanOrEqual(1e-6 * size);
        }
      }
    });
  }
});
