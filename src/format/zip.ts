// Random-access reading of zip archives (ZIP64 included), the container torch.save writes.
// Only the central directory is read up front; an entry's bytes are read when asked for, so a
// multi-gigabyte checkpoint is never loaded whole. fflate inflates the (rare) compressed entries;
// torch itself stores its entries uncompressed, so they are read straight from the file.
// Every entry's CRC-32 is checked before its bytes are used (a flipped bit must not convert into a file
// with a valid checksum of its own), and an archive whose entry names repeat, or whose local headers
// name another entry than the central directory, is refused: two readers could see different files.
import { inflateSync } from 'fflate';
import { BimambaError, badFormat } from '../errors.js';
import { crc32, crcHex } from './crc32.js';

/** A file, or bytes, that can be read at any offset. `read` must return exactly `length` bytes or throw. */
export interface RandomAccess {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Random access over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): RandomAccess {
  return {
    size: bytes.length,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.length) throw new BimambaError('BAD_FORMAT', `read of bytes ${offset}..${offset + length} past the end (${bytes.length} bytes)`);
      return bytes.subarray(offset, offset + length);
    },
  };
}

export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** The CRC-32 of the uncompressed contents, as the central directory gives it. */
  crc32: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/** Bounds on what an archive may ask of us: entries, central directory bytes, bytes to inflate. */
export const MAX_ZIP_ENTRIES = 100_000;
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
export const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;
/** Deflate cannot expand data more than about 1032:1; an entry claiming more is lying. */
const MAX_DEFLATE_RATIO = 1032;

function u64(view: DataView, at: number, where: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badFormat(where, 'a ZIP64 size or offset is too large');
  return Number(v);
}

/** Does the source start like a zip archive (a local file header)? */
export async function looksLikeZip(src: RandomAccess): Promise<boolean> {
  if (src.size < 4) return false;
  const head = await src.read(0, 4);
  return new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === LOCAL_SIG;
}

/** Read the central directory: every entry by name. */
export async function readZipDirectory(src: RandomAccess, where: string): Promise<Map<string, ZipEntry>> {
  // The end-of-central-directory record is the last 22 bytes, before a comment of up to 65535 bytes.
  const tailLength = Math.min(src.size, 22 + U16_MAX);
  const tail = await src.read(src.size - tailLength, tailLength);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG) { eocd = i; break; }
  }
  if (eocd < 0) throw badFormat(where, 'not a zip archive, or truncated (no end-of-central-directory record)');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);

  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    // ZIP64: a locator just before the record points at the 64-bit record.
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) throw badFormat(where, 'ZIP64 archive without its end-of-central-directory locator');
    const recOffset = u64(tv, loc + 8, where);
    if (recOffset + 56 > src.size) throw badFormat(where, 'ZIP64 end-of-central-directory record out of range');
    const rec = await src.read(recOffset, 56);
    const rv = new DataView(rec.buffer, rec.byteOffset, 56);
    if (rv.getUint32(0, true) !== ZIP64_EOCD_SIG) throw badFormat(where, 'bad ZIP64 end-of-central-directory record');
    count = u64(rv, 32, where);
    cdSize = u64(rv, 40, where);
    cdOffset = u64(rv, 48, where);
  }
  if (cdOffset + cdSize > src.size) throw badFormat(where, 'central directory out of range: the file is truncated');
  if (count > MAX_ZIP_ENTRIES) throw badFormat(where, `${count} entries, over the limit of ${MAX_ZIP_ENTRIES}`);
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw badFormat(where, `a central directory of ${cdSize} bytes, over the limit of ${MAX_CENTRAL_DIRECTORY_BYTES}`);

  const cd = await src.read(cdOffset, cdSize);
  const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cv.getUint32(p, true) !== CENTRAL_SIG) throw badFormat(where, `central directory entry ${i} is corrupt`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLength = cv.getUint16(p + 28, true);
    const extraLength = cv.getUint16(p + 30, true);
    const commentLength = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    if (p + 46 + nameLength + extraLength > cd.length) throw badFormat(where, `central directory entry ${i} is corrupt`);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLength));
    if (flags & 1) throw new BimambaError('UNSUPPORTED', `${where}: entry "${name}" is encrypted`);

    // ZIP64 extra field (id 1): 64-bit values for exactly those fields that read 0xFFFFFFFF, in this order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const field = (): number => {
          if (q + 8 > e + 4 + len || q + 8 > extraEnd) throw badFormat(where, `central directory entry ${i} ("${name.slice(0, 100)}") has a truncated ZIP64 extra field`);
          const v = u64(cv, q, where);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = field();
        if (compressedSize === U32_MAX) compressedSize = field();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = field();
      }
      e += 4 + len;
    }
    if (entries.has(name)) throw badFormat(where, `entry "${name.slice(0, 100)}" appears twice in the central directory`);
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset, crc32: crc });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** File offset of an entry's data: after its local header, whose name and extra field lengths may differ from the central directory's. */
async function dataOffset(src: RandomAccess, entry: ZipEntry, where: string): Promise<number> {
  if (entry.localHeaderOffset + 30 > src.size) throw badFormat(where, `entry "${entry.name}" lies past the end of the file: truncated`);
  const h = await src.read(entry.localHeaderOffset, 30);
  const hv = new DataView(h.buffer, h.byteOffset, 30);
  if (hv.getUint32(0, true) !== LOCAL_SIG) throw badFormat(where, `entry "${entry.name}" has a corrupt local header`);
  const nameLength = hv.getUint16(26, true);
  if (entry.localHeaderOffset + 30 + nameLength > src.size) throw badFormat(where, `entry "${entry.name}" lies past the end of the file: truncated`);
  const localName = new TextDecoder().decode(await src.read(entry.localHeaderOffset + 30, nameLength));
  if (localName !== entry.name) throw badFormat(where, `entry "${entry.name}" is named "${localName.slice(0, 100)}" in its local header`);
  const start = entry.localHeaderOffset + 30 + nameLength + hv.getUint16(28, true);
  if (start + entry.compressedSize > src.size) throw badFormat(where, `entry "${entry.name}" ends past the end of the file: truncated`);
  return start;
}

/** Bytes of a stored entry read at a time to check its CRC (when only a part of it is asked for). */
const CRC_CHUNK_BYTES = 16 * 1024 * 1024;

/** Stored entries whose CRC has been checked (a partial read checks the whole entry once). */
const checkedEntries = new WeakSet<ZipEntry>();

function checkCrc(entry: ZipEntry, crc: number, where: string): void {
  if (crc !== entry.crc32) {
    throw badFormat(where, `entry "${entry.name}" is corrupt: its CRC-32 is ${crcHex(crc)}, the archive says ${crcHex(entry.crc32)}`);
  }
}

/**
 * Bytes `begin .. begin+length` of an entry's uncompressed contents, after checking the entry's
 * CRC-32. Stored entries are read in place (only the range asked for, but the whole entry is read once
 * to check it); deflated ones are inflated whole first.
 */
export async function readZipEntry(src: RandomAccess, entry: ZipEntry, where: string, begin = 0, length = entry.size - begin): Promise<Uint8Array> {
  if (begin < 0 || length < 0 || begin + length > entry.size) {
    throw badFormat(where, `bytes ${begin}..${begin + length} asked of entry "${entry.name}", which holds ${entry.size}`);
  }
  const start = await dataOffset(src, entry, where);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw badFormat(where, `stored entry "${entry.name}" has different stored and real sizes`);
    if (begin === 0 && length === entry.size) {
      const bytes = await src.read(start, length);
      checkCrc(entry, crc32(bytes), where);
      checkedEntries.add(entry);
      return bytes;
    }
    if (!checkedEntries.has(entry)) {
      let crc = 0;
      for (let at = 0; at < entry.size; at += CRC_CHUNK_BYTES) crc = crc32(await src.read(start + at, Math.min(CRC_CHUNK_BYTES, entry.size - at)), crc);
      checkCrc(entry, crc, where);
      checkedEntries.add(entry);
    }
    return src.read(start + begin, length);
  }
  if (entry.method !== 8) throw new BimambaError('UNSUPPORTED', `${where}: entry "${entry.name}" uses zip compression method ${entry.method} (only stored and deflate are read)`);
  if (entry.size > MAX_INFLATED_BYTES || entry.size > MAX_DEFLATE_RATIO * entry.compressedSize + 64) {
    throw badFormat(where, `entry "${entry.name}" claims to inflate from ${entry.compressedSize} to ${entry.size} bytes: refused (corrupt, or over the limit of ${MAX_INFLATED_BYTES})`);
  }
  const compressed = await src.read(start, entry.compressedSize);
  let out: Uint8Array;
  try {
    out = inflateSync(compressed, { out: new Uint8Array(entry.size) });
  } catch (e) {
    throw badFormat(where, `entry "${entry.name}" could not be inflated (${(e as Error).message})`);
  }
  if (out.length !== entry.size) throw badFormat(where, `entry "${entry.name}" inflates to ${out.length} bytes, not the ${entry.size} its header says`);
  checkCrc(entry, crc32(out), where);
  return out.subarray(begin, begin + length);
}
