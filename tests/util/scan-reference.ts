// The Mamba-1 and Mamba-2 recurrences in float64, the references of the scan kernels' tests, and their
// random inputs. `store` is how the state keeps a value between tokens: as it is (f32 state), or rounded
// to bf16 (a bf16 state decoded token by token); y comes from the value before it is stored.
import type { Rng } from './rng.js';

export interface ScanData { x: Float32Array; dt: Float32Array; A: Float32Array; B: Float32Array; C: Float32Array; Dskip: Float32Array; h: Float32Array }

const keep = (v: number) => v;

/** Mamba-1 inputs: x, dt [T, D]; A, h [D, N] (A S4D-real-like, -(n+1) scaled); B, C [T, N]; Dskip [D]. */
export function scan1Data(rng: Rng, T: number, D: number, N: number): ScanData {
  const A = new Float32Array(D * N);
  for (let d = 0; d < D; d++) for (let n = 0; n < N; n++) A[d * N + n] = -(n + 1) * rng.uniform(0.5, 1.5); // -exp(A_log), S4D-real-like
  return {
    x: rng.f32(T * D), dt: rng.f32(T * D, () => rng.uniform(0.001, 0.3)), A,
    B: rng.f32(T * N), C: rng.f32(T * N), Dskip: rng.f32(D), h: rng.f32(D * N),
  };
}

/** Mamba-1: h = exp(dt*A) h + dt*B*x, y = C·h + Dskip*x, per channel d, over T tokens. */
export function scan1Ref(p: ScanData, T: number, D: number, N: number, store: (v: number) => number = keep) {
  const h = Float64Array.from(p.h, store), y = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let d = 0; d < D; d++) {
      const dt = p.dt[t * D + d], x = p.x[t * D + d];
      let s = 0;
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        const v = Math.exp(dt * p.A[i]) * h[i] + dt * p.B[t * N + n] * x;
        s += p.C[t * N + n] * v;
        h[i] = store(v);
      }
      y[t * D + d] = s + p.Dskip[d] * x;
    }
  }
  return { y, h };
}

/** Mamba-2 inputs: x [T, H*P]; dt [T, H]; A [H] in [-16, -1] (`aMin`: the least negative); B, C [T, G*N]; Dskip [H]; h [H, P, N]. */
export function scan2Data(rng: Rng, T: number, H: number, P: number, N: number, G: number, aMin = 1): ScanData {
  return {
    x: rng.f32(T * H * P), dt: rng.f32(T * H, () => rng.uniform(0.001, 0.3)), A: rng.f32(H, () => -rng.uniform(aMin, 16)),
    B: rng.f32(T * G * N), C: rng.f32(T * G * N), Dskip: rng.f32(H), h: rng.f32(H * P * N),
  };
}

/** Mamba-2: per head i (group i / (H/G)) and channel p, h = exp(dt*A) h + dt*B*x, y = C·h + Dskip*x, over T tokens. */
export function scan2Ref(p: ScanData, T: number, H: number, P: number, N: number, G: number, store: (v: number) => number = keep) {
  const h = Float64Array.from(p.h, store), y = new Float64Array(T * H * P);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H; i++) {
      const g = Math.floor(i / (H / G));
      const dt = p.dt[t * H + i], dA = Math.exp(dt * p.A[i]);
      for (let q = 0; q < P; q++) {
        const x = p.x[t * H * P + i * P + q];
        let s = 0;
        for (let n = 0; n < N; n++) {
          const k = (i * P + q) * N + n, bc = t * G * N + g * N + n;
          const v = dA * h[k] + dt * p.B[bc] * x;
          s += p.C[bc] * v;
          h[k] = store(v);
        }
        y[t * H * P + i * P + q] = s + p.Dskip[i] * x;
      }
    }
  }
  return { y, h };
}
