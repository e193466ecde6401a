// int8 embedding / LM head: one scale per row, W[n, k] ~= scale[n] * q[n, k], scale = max|W[n, :]| / 127.

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
