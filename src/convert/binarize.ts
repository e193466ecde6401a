// 1-bit weights for in_proj / out_proj, column-wise: W_hat[n, k] = alpha[k] * s[n, k] + beta[k].
//   Bi-Mamba checkpoints: s = sign(latent), alpha = wscale, beta = wbias (learned during training).
//   PTB (post-training binarization of a full-precision model), per input column k:
//     mu_k = mean_n W[n,k], alpha_k = mean_n |W[n,k] - mu_k|, s = sign(W - mu), beta_k = mu_k.
// An exact 0 packs as +1 (assembly/README.md); torch.sign(0) would give 0.
import { packLatent, packSigns } from '../format/onebit.js';

export interface OneBitWeight {
  /** Packed signs in the kernels' tile layout (src/format/onebit.ts). */
  bits: Uint8Array;
  alpha: Float32Array; // [K]
  beta: Float32Array; // [K]
}

/** Bi-Mamba: latent `[N, K]` row-major, wscale and wbias `[K]`. */
export function binarizeBiMamba(latent: Float32Array, wscale: Float32Array, wbias: Float32Array, N: number, K: number): OneBitWeight {
  return { bits: packLatent(latent, N, K), alpha: Float32Array.from(wscale), beta: Float32Array.from(wbias) };
}

/** PTB of a full-precision `[N, K]` row-major weight. */
export function binarizePtb(w: Float32Array, N: number, K: number): OneBitWeight {
  const mu = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) mu[k] += w[n * K + k];
  for (let k = 0; k < K; k++) mu[k] /= N;
  const alpha = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) alpha[k] += Math.abs(w[n * K + k] - mu[k]);
  for (let k = 0; k < K; k++) alpha[k] /= N;
  const bits = packSigns(N, K, (n, k) => w[n * K + k] - mu[k] >= 0);
  return { bits, alpha: Float32Array.from(alpha), beta: Float32Array.from(mu) };
}
