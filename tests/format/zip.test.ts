import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { crc32 } from '../../src/format/crc32.js';
import { bytesSource, readZipDirectory, readZipEntry } from '../../src/format/zip.js';
import { randomF32 } from './torch-bytes.js';

/** Little-endian byte assembly. */
class Bytes {
  readonly out: number[] = [];
  u16(v: number) { this.out.push(v & 0xff, (v >>> 8) & 0xff); return this; }
  u32(v: number) { this.u16(v & 0xffff); this.u16(v >>> 16); return this; }
  u64(v: number) { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); return this; }
  raw(b: ArrayLike<number>) { for (let i = 0; i < b.length; i++) this.out.push(b[i]); return this; }
  get length() { return this.out.length; }
}

/**
 * A one-entry ZIP64 archive, stored, with every size and offset moved to the 64-bit fields the way
 * torch writes archives over 4 GiB. Built by hand: fflate does not write ZIP64.
 */
function zip64(name: string, data: Uint8Array, junkBefore: number): Uint8Array {
  const n = new TextEncoder().encode(name);
  const crc = crc32(data);
  const b = new Bytes().raw(new Uint8Array(junkBefore)); // data before the entry, so offsets are not 0
  const local = b.length;
  b.u32(0x04034b50).u16(45).u16(0).u16(0).u16(0).u16(0).u32(crc).u32(0xffffffff).u32(0xffffffff).u16(n.length).u16(20).raw(n);
  b.u16(1).u16(16).u64(data.length).u64(data.length).raw(data);
  const cd = b.length;
  b.u32(0x02014b50).u16(45).u16(45).u16(0).u16(0).u16(0).u16(0).u32(crc).u32(0xffffffff).u32(0xffffffff).u16(n.length).u16(28).u16(0).u16(0).u16(0).u32(0).u32(0xffffffff).raw(n);
  b.u16(1).u16(24).u64(data.length).u64(data.length).u64(local);
  const cdSize = b.length - cd;
  const rec = b.length;
  b.u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(1).u64(1).u64(cdSize).u64(cd);
  b.u32(0x07064b50).u32(0).u64(rec).u32(1);
  b.u32(0x06054b50).u16(0).u16(0).u16(0xffff).u16(0xffff).u32(0xffffffff).u32(0xffffffff).u16(0);
  return Uint8Array.from(b.out);
}

describe('zip reading', () => {
  const payload = new Uint8Array(randomF32(301, 5).buffer); // 1204 bytes

  it('reads a ZIP64 archive, whole entries and byte ranges', async () => {
    const src = bytesSource(zip64('archive/data/0', payload, 77));
    const entries = await readZipDirectory(src, 'z');
    const e = entries.get('archive/data/0')!;
    expect(e).toMatchObject({ method: 0, size: payload.length, compressedSize: payload.length, localHeaderOffset: 77 });
    expect(await readZipEntry(src, e, 'z')).toEqual(payload);
    expect(await readZipEntry(src, e, 'z', 13, 555)).toEqual(payload.subarray(13, 568));
  });

  it('reads stored and deflated entries written by fflate', async () => {
    for (const level of [0, 9] as const) {
      const src = bytesSource(zipSync({ 'a/x': payload, 'a/empty': new Uint8Array(0) }, { level }));
      const entries = await readZipDirectory(src, 'z');
      expect(entries.get('a/x')!.method).toBe(level === 0 ? 0 : 8);
      expect(await readZipEntry(src, entries.get('a/x')!, 'z')).toEqual(payload);
      expect(await readZipEntry(src, entries.get('a/x')!, 'z', 1000, 204)).toEqual(payload.subarray(1000));
      expect((await readZipEntry(src, entries.get('a/empty')!, 'z')).length).toBe(0);
    }
  });

  it('refuses ranges outside an entry and archives cut short', async () => {
    const zip = zipSync({ 'a/x': payload }, { level: 0 });
    const src = bytesSource(zip);
    const e = (await readZipDirectory(src, 'z')).get('a/x')!;
    await expect(readZipEntry(src, e, 'z', 1200, 10)).rejects.toThrow(/bytes 1200\.\.1210/);
    // without its end record, it is not recognisable as a zip
    await expect(readZipDirectory(bytesSource(zip.subarray(0, zip.length - 10)), 'z')).rejects.toBeInstanceOf(BimambaError);
    // bytes missing from the middle: the directory's offsets now point past the end
    const whole = zip64('a/x', payload, 0);
    const holed = bytesSource(Uint8Array.from([...whole.subarray(0, 100), ...whole.subarray(100 + 600)]));
    await expect(readZipDirectory(holed, 'z')).rejects.toThrow(/out of range|truncated/);
  });
});
