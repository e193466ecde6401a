// A small reader for the protobuf wire format, enough for a SentencePiece model (tokenizer.model).
// It decodes no schema: it walks the fields of one message and hands each to the caller, who knows what
// the field numbers mean and descends into nested messages itself (so nesting is as deep as the caller's
// code, never as deep as the input says). Every length and varint is checked against the bytes that are
// left; nothing is allocated before its size is known to fit in the input.
//
// Wire types (https://protobuf.dev/programming-guides/encoding/):
//   0 varint, 1 fixed 64-bit, 2 length-delimited (strings, bytes, nested messages), 5 fixed 32-bit;
//   3 and 4 (groups, deprecated) are refused.
import { badFormat } from '../errors.js';

export type WireType = 0 | 1 | 2 | 5;

/** One field of a message: its number, wire type, and where its value lies in `bytes`. */
export interface ProtoField {
  field: number;
  wire: WireType;
  /** Varint value (wire 0); exact up to 2^53, larger values are clamped to Number.MAX_SAFE_INTEGER. */
  varint: number;
  /** The varint's low 32 bits, unsigned (what an int32, enum or bool field is made of). */
  low32: number;
  /** Value bytes [start, end) for wire 1, 2 and 5. */
  start: number;
  end: number;
}

const fail = (where: string, offset: number, what: string) => badFormat(where, `${what} at byte ${offset}`);

/**
 * Read a varint at `pos`; returns [value clamped to 2^53-1, its low 32 bits, next position]. At most
 * 10 bytes, as protobuf allows.
 */
function readVarint(bytes: Uint8Array, pos: number, end: number, where: string): [number, number, number] {
  let value = 0;
  let low32 = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw fail(where, pos, 'truncated varint');
    const b = bytes[pos++];
    value += (b & 0x7f) * scale;
    if (i < 5) low32 = (low32 + (b & 0x7f) * scale) % 2 ** 32;
    if ((b & 0x80) === 0) return [Math.min(value, Number.MAX_SAFE_INTEGER), low32, pos];
    scale *= 128;
  }
  throw fail(where, pos, 'varint longer than 10 bytes');
}

/**
 * Call `onField` for each field of the message in bytes [start, end). Fields are checked to lie wholly
 * inside the range; field numbers must be 1 .. 2^29-1.
 */
export function readMessage(bytes: Uint8Array, start: number, end: number, where: string, onField: (f: ProtoField) => void): void {
  let pos = start;
  while (pos < end) {
    const at = pos;
    let key: number;
    [key, , pos] = readVarint(bytes, pos, end, where);
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (field < 1 || field >= 2 ** 29) throw fail(where, at, `invalid field number ${field}`);
    const f: ProtoField = { field, wire: wire as WireType, varint: 0, low32: 0, start: pos, end: pos };
    if (wire === 0) {
      [f.varint, f.low32, pos] = readVarint(bytes, pos, end, where);
      f.start = f.end = pos;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (end - pos < size) throw fail(where, at, `field ${field}: truncated ${size * 8}-bit value`);
      f.end = pos += size;
    } else if (wire === 2) {
      let length: number;
      [length, , pos] = readVarint(bytes, pos, end, where);
      if (length > end - pos) throw fail(where, at, `field ${field}: length ${length} runs past the end of its message (${end - pos} bytes left)`);
      f.start = pos;
      f.end = pos += length;
    } else {
      throw fail(where, at, `field ${field}: unsupported wire type ${wire}`);
    }
    onField(f);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // ignoreBOM: keep a leading U+FEFF, it is text here

/** A length-delimited field as UTF-8 text (refused if it is not valid UTF-8). */
export function fieldString(bytes: Uint8Array, f: ProtoField, where: string): string {
  expectWire(f, 2, where);
  try {
    return utf8.decode(bytes.subarray(f.start, f.end));
  } catch {
    throw fail(where, f.start, `field ${f.field}: not valid UTF-8`);
  }
}

/** A fixed 32-bit field as a float. */
export function fieldFloat(bytes: Uint8Array, f: ProtoField, where: string): number {
  expectWire(f, 5, where);
  return new DataView(bytes.buffer, bytes.byteOffset + f.start, 4).getFloat32(0, true);
}

/** A varint field as an int32 or enum: its low 32 bits, signed (negative int32s are 10-byte varints). */
export function fieldInt32(f: ProtoField, where: string): number {
  expectWire(f, 0, where);
  return f.low32 | 0;
}

/** A varint field as a bool. */
export function fieldBool(f: ProtoField, where: string): boolean {
  expectWire(f, 0, where);
  return f.varint !== 0;
}

export function expectWire(f: ProtoField, wire: WireType, where: string): void {
  if (f.wire !== wire) throw fail(where, f.start, `field ${f.field} has wire type ${f.wire}, expected ${wire}`);
}
