// Packing of 1-bit weights into the kernels' tile layout (16 rows x 8 columns, 16 bytes a tile).
// The layout is described once, in assembly/README.md ("1-bit weights").

/** Rows padded to a multiple of 16, columns to a multiple of 8. */
export function packedShape(N: number, K: number): { Np: number; Kp: number; bytes: number } {
  const Np = Math.ceil(N / 16) * 16;
  const Kp = Math.ceil(K / 8) * 8;
  return { Np, Kp, bytes: (Np * Kp) / 8 };
}

/** Byte index and bit mask of element (n, k) in the packed buffer. */
function bitPosition(n: number, k: number, Kp: number): [number, number] {
  const rb = n >> 4, r = n & 15;
  const cp = k >> 3, c = k & 7; // c < 4: low nibble, else high nibble
  return [16 * (rb * (Kp >> 3) + cp) + r, 1 << c];
}

/**
 * Pack the signs of a row-major `[N, K]` matrix. `positive(n, k)` says whether the sign is +1
 * (Bi-Mamba: latent weight >= 0, so an exact 0 packs as +1).
 */
export function packSigns(N: number, K: number, positive: (n: number, k: number) => boolean): Uint8Array {
  const { Kp, bytes } = packedShape(N, K);
  const out = new Uint8Array(bytes);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      if (positive(n, k)) {
        const [i, m] = bitPosition(n, k, Kp);
        out[i] |= m;
      }
    }
  }
  return out;
}

/** Pack a row-major `[N, K]` array of latent weights: bit set where `w >= 0`. */
export function packLatent(w: ArrayLike<number>, N: number, K: number): Uint8Array {
  return packSigns(N, K, (n, k) => w[n * K + k] >= 0);
}

/** The sign (+1 or -1) of element (n, k) of a packed `[N, K]` matrix. */
export function signAt(bits: Uint8Array, K: number, n: number, k: number): 1 | -1 {
  const { Kp } = packedShape(0, K);
  const [i, m] = bitPosition(n, k, Kp);
  return bits[i] & m ? 1 : -1;
}

/** Dequantize a packed layer to a row-major f32 `[N, K]`: `W_hat[n,k] = alpha[k]*s[n,k] + beta[k]`. */
export function dequantize(bits: Uint8Array, alpha: ArrayLike<number>, beta: ArrayLike<number>, N: number, K: number): Float32Array {
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) out[n * K + k] = alpha[k] * signAt(bits, K, n, k) + beta[k];
  }
  return out;
}
