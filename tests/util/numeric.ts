// Error measures and reference helpers shared by numerical tests.

/** max_i |a_i - e_i| / max_i |e_i|: error relative to the size of the whole output. NaN must match NaN. */
export function normRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let err = 0, size = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
      continue;
    }
    if (a === e) continue; // also equal infinities
    err = Math.max(err, Math.abs(a - e));
    size = Math.max(size, Math.abs(e));
  }
  return size === 0 ? err : err / size;
}

/** max_i |a_i - e_i| / |e_i| (elements with e_i = 0 must match exactly). */
export function elementRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
      continue;
    }
    if (a === e) continue;
    worst = Math.max(worst, e === 0 ? Infinity : Math.abs(a - e) / Math.abs(e));
  }
  return worst;
}

/** The value of IEEE half bits, computed in f64 from the definition. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** f32 bit pattern of a number (after rounding to f32). */
export function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** The bytes under a typed array, for exact comparison (`.equals`): fast on large arrays, where vitest's deep equality walks element by element. */
export const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
