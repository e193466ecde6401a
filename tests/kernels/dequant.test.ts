// Half and int8 row dequantization (embedding lookup), checked bit for bit.
import { beforeAll, describe, expect, it } from 'vitest';
import { f32Bits, halfToNumber } from '../util/numeric.js';
import { Rng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore;
beforeAll(async () => { wasm = await loadCore(); });

/** The f32 bits a half should become: its exact value, or for NaN the same sign and payload. */
function expectedBits(h: number): number {
  const isNan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
  if (isNan) return (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  return f32Bits(halfToNumber(h));
}

describe('f16_row_to_f32', () => {
  it('converts every one of the 65536 halves exactly (subnormals, ±0, ±inf, NaN payloads)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const y = wasm.f32(65536);
    wasm.k.f16_row_to_f32(y, wasm.put(all), 65536);
    const got = new Uint32Array(wasm.read(y, 65536).buffer);
    const bad: string[] = [];
    for (let h = 0; h < 65536 && bad.length < 5; h++) {
      if (got[h] !== expectedBits(h)) bad.push(`0x${h.toString(16)} -> 0x${got[h].toString(16)}, want 0x${expectedBits(h).toString(16)}`);
    }
    expect(bad).toEqual([]);
  });

  for (const n of [1, 3, 4, 7, 13, 33]) {
    it(`handles n=${n} (tail) without writing past n`, () => {
      const rng = new Rng(n);
      const src = Uint16Array.from({ length: n }, () => rng.int(0, 65536));
      const y = wasm.f32(n + 4, 5);
      wasm.k.f16_row_to_f32(y, wasm.put(src), n);
      const got = wasm.read(y, n + 4);
      expect(Array.from(new Uint32Array(got.buffer, 0, n))).toEqual(Array.from(src, expectedBits));
      expect(Array.from(got.subarray(n))).toEqual([5, 5, 5, 5]);
    });
  }
});

describe('i8_row_to_f32', () => {
  for (const n of [1, 5, 16, 37, 256]) {
    it(`y = scale * q, exactly as f32, n=${n}`, () => {
      const rng = new Rng(100 + n);
      const q = Int8Array.from({ length: n }, (_, i) => (i < 2 ? [-128, 127][i] : rng.int(-128, 128)));
      const scale = Math.fround(rng.uniform(0.001, 0.1));
      const y = wasm.f32(n + 4, 5);
      wasm.k.i8_row_to_f32(y, wasm.put(q), scale, n);
      const got = wasm.read(y, n + 4);
      // one f32 rounding of an exact product
      expect(Array.from(got.subarray(0, n))).toEqual(Array.from(q, (v) => Math.fround(scale * v)));
      expect(Array.from(got.subarray(n))).toEqual([5, 5, 5, 5]);
    });
  }
});
