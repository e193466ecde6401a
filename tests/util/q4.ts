// Random 4-bit heads for kernel tests, packed by src/format/q4.ts (the layout's one definition in
// TypeScript) and decoded back by it into the f64 values the kernels must compute with.
import { bf16ToF32, f32ToBf16 } from '../../src/format/dtype.js';
import { getQ4, q4Groups, Q4_GROUP, Q4_GROUP_BYTES, setQ4 } from '../../src/format/q4.js';
import type { Rng } from './rng.js';

export interface Q4Weights {
  packed: Uint8Array; // [N, groups, 16]
  scale: Uint16Array; // [N, groups] bf16 bits
  W: Float64Array; // [N, K] the values they stand for
}

/**
 * N x K random 4-bit values (every one of -8..7) and bf16 scales of either sign. The padding of each
 * row's last group is filled with `padding` (a kernel must not let it count).
 */
export function randomQ4(rng: Rng, N: number, K: number, padding = 0x5): Q4Weights {
  const G = q4Groups(K), rowBytes = G * Q4_GROUP_BYTES;
  const packed = new Uint8Array(N * rowBytes);
  const scale = new Uint16Array(N * G).map(() => f32ToBf16(rng.uniform(1e-3, 2e-2) * (rng.next() < 0.3 ? -1 : 1)));
  const W = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < G * Q4_GROUP; k++) setQ4(packed, n * rowBytes, k, k < K ? rng.int(-8, 8) : padding);
    for (let k = 0; k < K; k++) W[n * K + k] = getQ4(packed, n * rowBytes, k) * bf16ToF32(scale[n * G + Math.floor(k / Q4_GROUP)]);
  }
  return { packed, scale, W };
}
