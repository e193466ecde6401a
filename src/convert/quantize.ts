// int8 embedding / LM head: one scale per row, W[n, k] ~= scale[n] * q[n, k], scale = max|W[n, :]| / 127.
import { bf16ToF32, f32ToBf16 } from '../format/dtype.js';
import { q4Groups, Q4_GROUP, Q4_GROUP_BYTES, setQ4 } from '../format/q4.js';

export interface Int8Rows {
  q: Int8Array; // [rows, cols]
  scale: Float32Array; // [rows]
}

export function quantizeRowsInt8(w: Float32Array, rows: number, cols: number): Int8Rows {
  const q = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let absmax = 0;
    for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(w[r * cols + c]));
    scale[r] = absmax / 127;
    if (scale[r] === 0) continue; // an all-zero row stays zero
    const s = scale[r]; // the stored (f32) scale, so that q * scale is the nearest point
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(w[r * cols + c] / s)));
  }
  return { q, scale };
}

// 4-bit embedding / LM head (format: src/format/q4.ts): per group of Q4_GROUP columns of a row,
// W[n, k] ~= d * q[n, k] with q an integer in [-8, 7] and d a bf16 scale. As llama.cpp's Q4_0, the
// group's value m of largest magnitude sets the scale's size and sign, so that m itself is one of the
// 16 levels (q = -8 at d = m / -8) and no level is wasted; but instead of d = m / -8 alone, the d
// among m / -c (c from 6.5 to 9 in steps of 1/8, either sign) that gives the group the least squared
// error is kept: a larger step can place the other 31 values better. Every value rounds to the
// nearest level (clamped to [-8, 7]) of the bf16 scale as stored.

export interface Q4Rows {
  packed: Uint8Array; // [rows, groups, 16] (q4PackedShape)
  scale: Uint16Array; // [rows, groups], bf16 bits
}

const Q4_STEPS_PER_MAX = Array.from({ length: 21 }, (_, i) => 6.5 + i / 8); // c in m / -c

/** The nearest level of scale d to v, in [-8, 7] (0 when d is 0). */
const level = (v: number, d: number) => (d === 0 ? 0 : Math.max(-8, Math.min(7, Math.round(v / d))));

/** The bf16 scale (as a number) that quantizes w[k0..k1) with the least squared error. */
function groupScale(w: Float32Array, k0: number, k1: number): number {
  let m = 0;
  for (let k = k0; k < k1; k++) if (Math.abs(w[k]) > Math.abs(m)) m = w[k];
  let best = 0, bestError = Infinity;
  for (const c of Q4_STEPS_PER_MAX) {
    for (const sign of [1, -1]) {
      const d = bf16ToF32(f32ToBf16((sign * m) / -c));
      let error = 0;
      for (let k = k0; k < k1; k++) error += (level(w[k], d) * d - w[k]) ** 2;
      if (error < bestError) [best, bestError] = [d, error];
    }
  }
  return best;
}

export function quantizeRowsQ4(w: Float32Array, rows: number, cols: number): Q4Rows {
  const groups = q4Groups(cols), rowBytes = groups * Q4_GROUP_BYTES;
  const packed = new Uint8Array(rows * rowBytes); // padding columns stay 0
  const scale = new Uint16Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const k0 = r * cols + g * Q4_GROUP, k1 = r * cols + Math.min(cols, (g + 1) * Q4_GROUP);
      const d = groupScale(w, k0, k1);
      scale[r * groups + g] = f32ToBf16(d);
      for (let k = k0; k < k1; k++) setQ4(packed, r * rowBytes, k - r * cols, level(w[k], d));
    }
  }
  return { packed, scale };
}
