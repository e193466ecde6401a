// Conversions between the floating-point storage types found in checkpoints and f32.
// Everything is little-endian, as in safetensors and in torch checkpoints saved on x86/ARM.
import { BimambaError } from '../errors.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half (as its 16 bits) to a number. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A number to the bits of the nearest IEEE half (ties to even); overflow gives infinity. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0); // inf, NaN
  let e = exp - 127 + 15; // rebias
  if (e >= 31) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa, with its implicit 1, into place and round.
    if (e < -10) return sign;
    frac |= 0x800000;
    const shift = 14 - e; // 24-bit mantissa -> (10 + e)-bit
    const half = 1 << (shift - 1);
    const rest = frac & ((1 << shift) - 1);
    let m = frac >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m; // a carry into bit 10 correctly makes the smallest normal
  }
  // Normal: keep 10 of 23 mantissa bits, round to nearest even; a carry may bump the exponent.
  const rest = frac & 0x1fff;
  let m = frac >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) { m = 0; e++; }
    if (e >= 31) return sign | 0x7c00;
  }
  return sign | (e << 10) | m;
}

/** A number to the bits of the nearest bfloat16 (ties to even): the top half of its f32, rounded. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // NaN stays NaN
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** bfloat16 (as its 16 bits) to a number: the top half of an f32. */
export function bf16ToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

let table: Float32Array | null = null;

/** Every half's f32 value, built once: decoding a tensor is then one lookup per element. */
function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
  }
  return table;
}

/** The bytes as 16-bit values (copied first if they sit at an odd offset). */
function uint16s(bytes: Uint8Array): Uint16Array {
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
}

/** Decode the bytes of a little-endian floating-point tensor of `dtype` to f32. */
export function toFloat32(bytes: Uint8Array, dtype: string, where: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      // Copy into a fresh, aligned array (the source may sit at any byte offset).
      const out = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F16': {
      const table = f16Table();
      const halves = uint16s(bytes);
      const out = new Float32Array(halves.length);
      for (let i = 0; i < out.length; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      const halves = uint16s(bytes);
      const out = new Float32Array(halves.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) bits[i] = halves[i] << 16;
      return out;
    }
    case 'F64': {
      const out = new Float32Array(bytes.byteLength / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    default:
      throw new BimambaError('BAD_CHECKPOINT', `${where}: dtype ${dtype} is not a floating-point type`);
  }
}

/** Encode f32 values as little-endian IEEE halves. */
export function toFloat16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, f32ToF16(values[i]), true);
  return out;
}

/** The bytes of an f32 array (little-endian on every host WebAssembly runs on). */
export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
