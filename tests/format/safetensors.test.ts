import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsWriter } from '../../src/convert/safetensors-writer.js';
import { layoutSafetensors, MAX_HEADER_BYTES, parseSafetensorsHeader } from '../../src/format/safetensors.js';
import { f32Bytes, randomF32 } from './torch-bytes.js';
import { thrownBy } from '../util/errors.js';

/** A safetensors file from a raw JSON header and a data section. */
function file(header: unknown, dataBytes: number, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const parse = (bytes: Uint8Array) => parseSafetensorsHeader(bytes, { fileSize: bytes.length, where: 't.safetensors' });

describe('safetensors header validation', () => {
  const ok = { __metadata__: { a: 'b' }, x: { dtype: 'F32', shape: [3, 5], data_offsets: [0, 60] }, y: { dtype: 'I8', shape: [7], data_offsets: [60, 67] } };

  it('accepts a valid header and returns tensors in data order', () => {
    const h = parse(file({ y: ok.y, x: ok.x, __metadata__: ok.__metadata__ }, 67));
    expect(h.metadata).toEqual({ a: 'b' });
    expect(h.tensors.map((t) => [t.name, t.begin, t.end])).toEqual([['x', 0, 60], ['y', 60, 67]]);
    expect(h.dataBytes).toBe(67);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['an oversized header length', (() => { const b = file(ok, 67); new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true); return b; })(), /over the limit/],
    ['a header length past the end of the file', (() => { const b = file(ok, 0); new DataView(b.buffer).setBigUint64(0, 5000n, true); return b; })(), /truncated/],
    ['fewer than 8 bytes', new Uint8Array(5), /truncated/],
    ['a header that is not JSON', file(null, 0, '{"x": {"dtype": "F32",'), /not valid UTF-8 JSON/],
    ['a header that is not an object', file([1, 2], 0), /not a JSON object/],
    ['an unknown dtype', file({ x: { ...ok.x, dtype: 'F31' } }, 60), /"x": unknown dtype "F31"/],
    ['a negative dimension', file({ x: { ...ok.x, shape: [-3, 5] } }, 60), /"x": shape must be a list of non-negative integers/],
    ['a fractional offset', file({ x: { ...ok.x, data_offsets: [0, 59.5] } }, 60), /"x": data_offsets/],
    ['a size that does not match the shape', file({ x: { ...ok.x, data_offsets: [0, 64] } }, 64), /"x": holds 64 bytes but shape \[3,5\] of F32 needs 60/],
    ['overlapping tensors', file({ x: ok.x, y: { ...ok.y, data_offsets: [55, 62] } }, 67), /"x" and "y" overlap/],
    ['a hole between tensors', file({ x: ok.x, y: { ...ok.y, data_offsets: [64, 71] } }, 71), /hole in the data section before tensor "y"/],
    ['offsets past the end of the file', file(ok, 66), /"y" ends at data offset 67, past the end of the file/],
    ['bytes after the last tensor', file(ok, 70), /3 bytes after the last tensor/],
    ['metadata values that are not strings', file({ ...ok, __metadata__: { n: 3 } }, 67), /"__metadata__"."n" must be a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`refuses ${what}`, () => {
      const e = thrownBy(() => parse(bytes));
      expect(e.code).toBe('BAD_FORMAT');
      expect(e.message).toMatch(/^t\.safetensors/);
      expect(e.message).toMatch(message);
    });
  }
});

describe('safetensors layout and writer', () => {
  const dir = mkdtemp(join(tmpdir(), 'bimamba-st-'));
  afterAll(async () => rm(await dir, { recursive: true, force: true }));

  // awkward sizes: 3*5 f32 = 60 bytes, 7 i8, 13 f16 = 26 bytes, an empty tensor, 1 u8
  const plans = [
    { name: 'a', dtype: 'F32', shape: [3, 5] },
    { name: 'b', dtype: 'I8', shape: [7] },
    { name: 'c', dtype: 'F16', shape: [13] },
    { name: 'empty', dtype: 'F32', shape: [0, 4] },
    { name: 'd', dtype: 'U8', shape: [1] },
  ];

  it('aligns the data section and every tensor, filling gaps with __pad tensors', () => {
    const layout = layoutSafetensors(plans, { k: 'v' }, 64);
    expect(layout.dataStart % 64).toBe(0);
    const names = layout.entries.map((e) => e.name);
    expect(names.filter((n) => n.startsWith('__pad.')).length).toBeGreaterThan(0);
    for (const e of layout.entries) if (!e.name.startsWith('__pad.')) expect((layout.dataStart + e.begin) % 64).toBe(0);
    // the laid-out header is itself valid, padding included
    const bytes = new Uint8Array(layout.dataStart + layout.dataBytes);
    bytes.set(layout.head);
    const h = parseSafetensorsHeader(bytes, { fileSize: bytes.length });
    expect(h.metadata).toEqual({ k: 'v' });
    expect(h.tensors.map((t) => t.name)).toEqual(names);
  });

  it('writes tensor by tensor into a file whose bytes read back', async () => {
    const path = join(await dir, 'w.safetensors');
    const a = randomF32(15, 1);
    const data: Record<string, Uint8Array> = {
      a: f32Bytes(a), b: Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), c: new Uint8Array(26).fill(9), empty: new Uint8Array(0), d: Uint8Array.of(42),
    };
    const w = await SafetensorsWriter.create(path, plans, {}, 64);
    for (const p of plans) await w.write(p.name, data[p.name]);
    await w.finish();
    const bytes = new Uint8Array(await readFile(path));
    expect(bytes.length).toBe(w.fileBytes);
    const h = parseSafetensorsHeader(bytes, { fileSize: (await stat(path)).size });
    for (const t of h.tensors) {
      if (t.name.startsWith('__pad.')) expect(bytes.subarray(h.dataStart + t.begin, h.dataStart + t.end).every((x) => x === 0)).toBe(true);
      else expect(bytes.subarray(h.dataStart + t.begin, h.dataStart + t.end)).toEqual(data[t.name]);
    }
  });

  it('refuses tensors out of order or of the wrong size, and leaves no file behind', async () => {
    const path = join(await dir, 'bad.safetensors');
    const w = await SafetensorsWriter.create(path, plans, {}, 64);
    await expect(w.write('b', new Uint8Array(7))).rejects.toThrow(/expected tensor "a" next, got "b"/);
    await expect(w.write('a', new Uint8Array(59))).rejects.toThrow(/"a" needs 60 bytes, got 59/);
    await w.abort();
    await expect(stat(path)).rejects.toThrow();
    expect((await readdir(await dir)).filter((n) => n.includes('bad.safetensors'))).toEqual([]); // no temporary file either
  });
});
