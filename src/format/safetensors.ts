// safetensors: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) and may hold "__metadata__", a string-to-string map. The tensors must tile the data
// section exactly: no overlap and no holes.
// This file parses and validates headers and lays out new ones; it has no I/O of its own, so every
// runtime can use it.
import { BimambaError, badFormat } from '../errors.js';
import { checkJsonShape } from './json-shape.js';
import { preview } from './preview.js';

/** Bytes per element of every dtype the safetensors format defines. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** Headers larger than this are refused before being read (a corrupt length field would otherwise allocate gigabytes). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** More tensors than this in one file, more metadata entries or more dimensions are refused. */
export const MAX_TENSORS = 100_000;
export const MAX_METADATA_ENTRIES = 1024;
export const MAX_DIMENSIONS = 16;
/**
 * What a header's JSON may hold before it is parsed: per tensor an object and two arrays, and about 22
 * values (dtype, up to 16 dimensions, two offsets); metadata entries are strings.
 */
export const HEADER_JSON_LIMITS = { maxDepth: 8, maxContainers: 3 * (MAX_TENSORS + 2), maxValues: 24 * (MAX_TENSORS + 1) + 2 * MAX_METADATA_ENTRIES };

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N: the length of the JSON header. The data section starts at file offset 8 + N. */
  headerLength: number;
  dataStart: number;
  /** Bytes of the data section (the end of the last tensor). */
  dataBytes: number;
  metadata: Record<string, string>;
  /** The tensors in data order. */
  tensors: TensorEntry[];
}

/** Read N, the header length, from the first 8 bytes; refuse lengths past `maxHeaderBytes`. */
export function readHeaderLength(first8: Uint8Array, where = 'safetensors file', maxHeaderBytes = MAX_HEADER_BYTES): number {
  if (first8.length < 8) throw badFormat(where, `truncated: ${first8.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) throw badFormat(where, `header length ${n} is over the limit of ${maxHeaderBytes} bytes`);
  if (n < 2n) throw badFormat(where, `header length ${n} is too small to hold a JSON object`);
  return Number(n);
}

/**
 * The bytes parseSafetensorsHeader reads (the 8-byte length, then the header), from the start of a
 * file or stream: `read(n)` gives its next n bytes, `size` its length when known, which must hold the
 * header. `headerLength` reads the first 8 bytes (readHeaderLength, or a format's own wording of it).
 */
export async function readHeaderBytes(read: (n: number) => Promise<Uint8Array>, size: number | undefined, where: string, headerLength: (first8: Uint8Array, where: string) => number = readHeaderLength): Promise<Uint8Array> {
  const first8 = await read(8);
  const length = headerLength(first8, where);
  if (size !== undefined && size < 8 + length) throw badFormat(where, `truncated: the header says it is ${length} bytes but the file ends before it does`);
  const bytes = new Uint8Array(8 + length);
  bytes.set(first8);
  bytes.set(await read(length), 8);
  return bytes;
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Validate a header. `bytes` starts at file offset 0 and holds at least the header; `fileSize`, when
 * known, lets the data offsets be checked against the end of the file.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, opts: { fileSize?: number; where?: string; maxHeaderBytes?: number } = {}): SafetensorsHeader {
  const where = opts.where ?? 'safetensors file';
  const headerLength = readHeaderLength(bytes, where, opts.maxHeaderBytes);
  const dataStart = 8 + headerLength;
  if (bytes.length < dataStart || (opts.fileSize !== undefined && opts.fileSize < dataStart)) {
    throw badFormat(where, `truncated: the header says it is ${headerLength} bytes but the file ends before it does`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch (e) {
    throw badFormat(where, `the header is not valid UTF-8 (${(e as Error).message})`);
  }
  checkJsonShape(text, `${where} header`, HEADER_JSON_LIMITS);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badFormat(where, `the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badFormat(where, 'the header is not a JSON object');

  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length > MAX_TENSORS + 1) throw badFormat(where, `the header lists ${entries.length} entries, over the limit of ${MAX_TENSORS} tensors`);
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, value] of entries) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, where);
      continue;
    }
    tensors.push(parseEntry(name, value, where));
  }

  // Sorted by offset, the tensors must follow one another with no gap and no overlap.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous = '';
  for (const t of tensors) {
    if (t.begin < cursor) throw badFormat(where, `tensors "${previous}" and "${t.name}" overlap (bytes ${t.begin}..${cursor})`);
    if (t.begin > cursor) throw badFormat(where, `hole in the data section before tensor "${t.name}" (bytes ${cursor}..${t.begin} belong to no tensor)`);
    cursor = t.end;
    previous = t.name;
  }
  if (opts.fileSize !== undefined) {
    const available = opts.fileSize - dataStart;
    for (const t of tensors) {
      if (t.end > available) throw badFormat(where, `tensor "${t.name}" ends at data offset ${t.end}, past the end of the file (${available} bytes of data): truncated or corrupt`);
    }
    if (cursor < available) throw badFormat(where, `${available - cursor} bytes after the last tensor belong to no tensor`);
  }
  return { headerLength, dataStart, dataBytes: cursor, metadata, tensors };
}

function parseMetadata(value: unknown, where: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badFormat(where, '"__metadata__" must be an object of strings');
  const out: Record<string, string> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_METADATA_ENTRIES) throw badFormat(where, `"__metadata__" has ${entries.length} entries, over the limit of ${MAX_METADATA_ENTRIES}`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw badFormat(where, `"__metadata__"."${k}" must be a string, got ${typeof v}`);
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, value: unknown, where: string): TensorEntry {
  const at = `${where}, tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badFormat(at, 'entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw badFormat(at, `unknown dtype ${preview(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) throw badFormat(at, `shape must be a list of non-negative integers, got ${preview(shape)}`);
  if (shape.length > MAX_DIMENSIONS) throw badFormat(at, `shape has ${shape.length} dimensions, over the limit of ${MAX_DIMENSIONS}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
    throw badFormat(at, `data_offsets must be [begin, end] with non-negative integers, got ${preview(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw badFormat(at, `data_offsets [${begin}, ${end}] end before they begin`);
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(expected)) throw badFormat(at, `shape ${preview(shape)} is too large`);
  if (end - begin !== expected) throw badFormat(at, `holds ${end - begin} bytes but shape ${preview(shape)} of ${dtype} needs ${expected}`);
  return { name, dtype, shape: shape as number[], begin, end };
}

export interface TensorPlan {
  name: string;
  dtype: string;
  shape: number[];
}

export interface SafetensorsLayout {
  /** The 8-byte length and the JSON header, padded with spaces: the first `dataStart` bytes of the file. */
  head: Uint8Array;
  dataStart: number;
  /** Every tensor with its offsets, padding tensors included, in data order. */
  entries: TensorEntry[];
  dataBytes: number;
}

/** The prefix of the padding tensors a layout inserts; readers of .bimamba files skip them. */
export const PAD_PREFIX = '__pad.';

/**
 * Lay out a file: offsets for every tensor, in the order given, with each tensor starting at a file
 * offset that is a multiple of `align` (1: packed, no padding). The format forbids holes, so a gap
 * before a tensor is filled by an explicit U8 tensor named `__pad.N`. The JSON header is padded with
 * trailing spaces so that the data section starts at a multiple of 8 (and of `align`).
 */
export function layoutSafetensors(tensors: TensorPlan[], metadata: Record<string, string>, align = 1): SafetensorsLayout {
  const entries: TensorEntry[] = [];
  let cursor = 0;
  let pads = 0;
  for (const t of tensors) {
    if (!(t.dtype in DTYPE_BYTES)) throw new BimambaError('BAD_ARGUMENT', `tensor "${t.name}": unknown dtype ${t.dtype}`);
    if (t.name.startsWith(PAD_PREFIX) || t.name === '__metadata__') throw new BimambaError('BAD_ARGUMENT', `tensor name "${t.name}" is reserved`);
    const gap = (align - (cursor % align)) % align;
    if (gap > 0) {
      entries.push({ name: `${PAD_PREFIX}${pads++}`, dtype: 'U8', shape: [gap], begin: cursor, end: cursor + gap });
      cursor += gap;
    }
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    entries.push({ name: t.name, dtype: t.dtype, shape: t.shape, begin: cursor, end: cursor + bytes });
    cursor += bytes;
  }

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  for (const e of entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerAlign = Math.max(8, align);
  const headerLength = Math.ceil((8 + json.length) / headerAlign) * headerAlign - 8;

  const head = new Uint8Array(8 + headerLength).fill(0x20); // spaces pad the JSON
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  return { head, dataStart: 8 + headerLength, entries, dataBytes: cursor };
}
