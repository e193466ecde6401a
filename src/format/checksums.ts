// Per-tensor checksums of a .bimamba file (FORMAT.md, "Checksums"): the metadata key `checksums`
// holds, as JSON, the CRC-32 of every tensor's bytes (padding tensors included, so every byte of the
// data section is covered) and of the rest of the metadata (config, tokenizer, source).
// The writer fills them in as it writes; readers verify them on request, streaming, tensor by tensor.
import { badFormat } from '../errors.js';
import { checkJsonShape } from './json-shape.js';
import { crc32, crcHex } from './crc32.js';
import type { TensorEntry } from './safetensors.js';

export const CHECKSUMS_KEY = 'checksums';
export const CHECKSUM_ALGORITHM = 'crc32';

export interface Checksums {
  algorithm: typeof CHECKSUM_ALGORITHM;
  /** CRC-32 of the other metadata entries (see metadataCrc). */
  metadata: string;
  /** CRC-32 of each tensor's bytes, by tensor name. */
  tensors: Record<string, string>;
}

/** CRC-32 of the UTF-8 JSON of the metadata entries other than `checksums`, sorted by key. */
export function metadataCrc(metadata: Record<string, string>): number {
  const entries = Object.entries(metadata).filter(([k]) => k !== CHECKSUMS_KEY).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return crc32(new TextEncoder().encode(JSON.stringify(entries)));
}

/** The `checksums` metadata value. Every CRC is 8 hex digits, so the text's length depends only on the names. */
export function formatChecksums(metaCrc: number, tensors: { name: string; crc: number }[]): string {
  const value: Checksums = { algorithm: CHECKSUM_ALGORITHM, metadata: crcHex(metaCrc), tensors: {} };
  for (const t of tensors) value.tensors[t.name] = crcHex(t.crc);
  return JSON.stringify(value);
}

const isHex8 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{8}$/.test(v);

/**
 * Read and check the `checksums` entry against the file's tensors (every one must have a checksum and
 * no other name may appear), and check the metadata's own checksum.
 */
export function readChecksums(metadata: Record<string, string>, layout: TensorEntry[], where: string): Checksums {
  const text = metadata[CHECKSUMS_KEY];
  if (text === undefined) {
    throw badFormat(where, 'the file has no checksums to verify (it was converted by an older version): convert it again, or load it without verifying');
  }
  let value: unknown;
  checkJsonShape(text, `${where}: metadata "checksums"`);
  try {
    value = JSON.parse(text);
  } catch {
    throw badFormat(where, 'metadata "checksums" is not JSON');
  }
  const v = value as Partial<Checksums> | null;
  if (typeof v !== 'object' || v === null || v.algorithm !== CHECKSUM_ALGORITHM || !isHex8(v.metadata) || typeof v.tensors !== 'object' || v.tensors === null) {
    throw badFormat(where, `metadata "checksums" is not {"algorithm": "${CHECKSUM_ALGORITHM}", "metadata": <8 hex digits>, "tensors": {...}}`);
  }
  const tensors = v.tensors as Record<string, unknown>;
  for (const t of layout) {
    if (!Object.hasOwn(tensors, t.name)) throw badFormat(where, `tensor "${t.name}" has no checksum`);
    if (!isHex8(tensors[t.name])) throw badFormat(where, `the checksum of tensor "${t.name}" is not 8 hex digits`);
  }
  const names = new Set(layout.map((t) => t.name));
  for (const name of Object.keys(tensors)) if (!names.has(name)) throw badFormat(where, `metadata "checksums" names a tensor the file does not have: "${name}"`);
  if (crcHex(metadataCrc(metadata)) !== v.metadata) {
    throw badFormat(where, 'the metadata (config, tokenizer, source) does not match its checksum: the header is corrupt');
  }
  return v as Checksums;
}

/** The tensor that holds data offset `offset` (the last one, at or past the end). */
export function tensorAt(layout: TensorEntry[], offset: number): TensorEntry | undefined {
  return layout.find((t) => offset < t.end) ?? layout[layout.length - 1];
}

/**
 * Checks the data section as it streams past: feed it in order, in pieces of any size; each tensor's
 * CRC is checked as soon as its last byte arrives, and a mismatch names the tensor.
 */
export class DataVerifier {
  private next = 0; // index into layout of the tensor being read
  private position = 0; // data offset of the next byte
  private crc = 0;

  constructor(private readonly layout: TensorEntry[], private readonly checksums: Checksums, private readonly where: string) {
    this.closeFinished();
  }

  /** The next bytes of the data section. */
  push(chunk: Uint8Array): void {
    let p = 0;
    while (p < chunk.length) {
      const t = this.layout[this.next];
      if (!t) throw badFormat(this.where, `${chunk.length - p} bytes after the last tensor belong to no tensor`);
      const take = Math.min(chunk.length - p, t.end - this.position);
      this.crc = crc32(chunk.subarray(p, p + take), this.crc);
      this.position += take;
      p += take;
      this.closeFinished();
    }
  }

  /** Check that the whole data section was seen. */
  finish(): void {
    const t = this.layout[this.next];
    if (t) throw badFormat(this.where, `truncated: the data ends inside tensor "${t.name}"`);
  }

  /** Check every tensor whose last byte has arrived (zero-sized ones included). */
  private closeFinished(): void {
    for (let t = this.layout[this.next]; t && this.position === t.end; t = this.layout[this.next]) {
      const want = this.checksums.tensors[t.name];
      if (crcHex(this.crc) !== want) {
        throw badFormat(this.where, `tensor "${t.name}" does not match its checksum (crc32 ${crcHex(this.crc)}, expected ${want}): the file is corrupt`);
      }
      this.crc = 0;
      this.next++;
    }
  }
}
