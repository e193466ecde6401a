// The fast path's 16-bit activations (assembly/quantize.ts with 32767 levels, as i8_fast_prepare
// writes them), computed here for the references of the int8 and 4-bit head tests.

export const BLOCK = 256;
const LEVELS = 32767;

/** Round to the nearest integer, half to even. */
function nearest(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Token t of x [T, K]: q[k] = round(x[k] / step_b) per block b of 256 columns, and the f32 steps. */
export function quantize16(x: Float32Array, t: number, K: number): { q: Int32Array; step: Float64Array } {
  const q = new Int32Array(K), step = new Float64Array(Math.ceil(K / BLOCK));
  for (let b = 0; b < step.length; b++) {
    let amax = 0;
    for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) amax = Math.max(amax, Math.abs(x[t * K + k]));
    step[b] = amax < 2 ** -100 ? 0 : Math.fround(amax / LEVELS);
    const inv = amax < 2 ** -100 ? 0 : Math.fround(LEVELS / amax);
    for (let k = b * BLOCK; k < Math.min(K, (b + 1) * BLOCK); k++) q[k] = nearest(Math.fround(x[t * K + k] * inv));
  }
  return { q, step };
}
