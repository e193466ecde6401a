import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToF16, toFloat16Bytes, toFloat32 } from '../../src/format/dtype.js';
import { randomF32, rng } from './torch-bytes.js';

/** Plain reference decoding of an IEEE half, straight from the definition. */
function refHalf(h: number): number {
  const s = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * (m / 1024) * 2 ** -14 : s * (1 + m / 1024) * 2 ** (e - 15);
}

describe('f16 and bf16', () => {
  it('decodes every half as the definition says, and encodes each back to itself', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = f16ToF32(h);
      if (!(Object.is(v, refHalf(h)) || (Number.isNaN(v) && Number.isNaN(refHalf(h))))) wrong.push(h);
      if (!Number.isNaN(v) && f32ToF16(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds random f32 values to the nearest half, ties to even', () => {
    const r = rng(3);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround(r() * 2 ** Math.floor(r() * 40 - 25)); // normals and subnormals of f16
      const h = f32ToF16(x);
      const err = Math.abs(f16ToF32(h) - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7c00) === 0x7c00 || (n & 0x8000) !== (h & 0x8000)) continue;
        const other = Math.abs(f16ToF32(n) - x);
        expect(err).toBeLessThanOrEqual(other);
        if (err === other) expect(h & 1).toBe(0); // a tie went to the even neighbour
      }
    }
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds past the largest half: infinity
    expect(f32ToF16(65519)).toBe(0x7bff);
  });

  it('decodes bf16 as the top half of an f32', () => {
    const x = randomF32(101, 8);
    const u = new Uint32Array(x.buffer);
    for (let i = 0; i < x.length; i++) {
      const top = u[i] >>> 16;
      expect(bf16ToF32(top)).toBe(new Float32Array(new Uint32Array([top << 16]).buffer)[0]);
    }
  });

  it('converts whole tensors from unaligned bytes', () => {
    const x = randomF32(37, 9);
    const halves = toFloat16Bytes(x);
    const shifted = new Uint8Array(halves.length + 1);
    shifted.set(halves, 1); // odd byte offset
    const back = toFloat32(shifted.subarray(1), 'F16', 't');
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -11 + 2 ** -25);
    const f32 = new Uint8Array(x.byteLength + 3);
    f32.set(new Uint8Array(x.buffer), 3);
    expect(toFloat32(f32.subarray(3), 'F32', 't')).toEqual(x);
    expect(() => toFloat32(new Uint8Array(8), 'I64', 'w')).toThrow(/w: dtype I64 is not a floating-point type/);
  });
});
