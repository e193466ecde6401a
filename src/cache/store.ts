// What every cache backend offers the delivery logic (delivery.ts): complete entries to read, partial
// downloads to resume, a writer to fill, and the list. Backends: OPFS and the Cache API (browser.ts),
// a CacheObject (browser.ts too: the Cache API is one), a directory (disk.ts, Node, Deno and Bun).
import type { ModelSource } from '../format/byte-reader.js';
import type { CachedModel } from './types.js';

/** What is known of a stored file: where it came from, its validators, and what it must be. */
export interface EntryInfo {
  url: string;
  /** The whole file's size. */
  totalBytes: number;
  etag: string | null;
  lastModified: string | null;
  storedAt: number;
  /** Identifies the file's content: its header's checksums (entry.ts). Another model's file does not match. */
  fingerprint: string;
  name: string | null;
}

export interface StoredEntry {
  info: EntryInfo;
  /** The complete file: a path on disk, a Blob, a stream. */
  source: ModelSource;
}

export interface PartialEntry {
  info: EntryInfo;
  /** Bytes already stored, from file offset 0. */
  bytes: number;
  /** Those bytes. */
  stream(): ReadableStream<Uint8Array>;
}

export interface EntryWriter {
  /** The next bytes of the file. */
  write(chunk: Uint8Array): Promise<void>;
  /** The whole file has been written and verified: make it the entry. */
  commit(): Promise<void>;
  /** Stop; `keep` leaves what was written as a partial download to resume (where the backend can). */
  abort(keep: boolean): Promise<void>;
}

export interface Store {
  readonly kind: 'opfs' | 'cache-api' | 'custom' | 'disk';
  get(url: string): Promise<StoredEntry | null>;
  /** A partial download, where the backend keeps them (OPFS, disk). */
  partial(url: string): Promise<PartialEntry | null>;
  /** Start writing `info`'s file; with `resumeFrom` > 0, append to the partial download of that many bytes. */
  open(info: EntryInfo, resumeFrom: number): Promise<EntryWriter>;
  delete(url: string): Promise<boolean>;
  list(): Promise<CachedModel[]>;
  /** Bytes the backend may still take, where it can say. */
  available?(): Promise<number | null>;
  /** Run `task` while no other process or tab downloads `url`. */
  exclusive<T>(url: string, task: () => Promise<T>): Promise<T>;
}

/** A key for file names: 16 hex digits of two FNV-1a hashes of the URL (the entry's info names the URL itself). */
export function urlKey(url: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 2);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Parse stored info JSON; null when it is not what we wrote (a damaged or foreign file). */
export function parseInfo(text: string): EntryInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = v as Partial<EntryInfo> | null;
  if (!o || typeof o !== 'object' || typeof o.url !== 'string' || typeof o.fingerprint !== 'string') return null;
  if (typeof o.totalBytes !== 'number' || !Number.isSafeInteger(o.totalBytes) || o.totalBytes < 0) return null;
  return {
    url: o.url,
    totalBytes: o.totalBytes,
    etag: typeof o.etag === 'string' ? o.etag : null,
    lastModified: typeof o.lastModified === 'string' ? o.lastModified : null,
    storedAt: typeof o.storedAt === 'number' ? o.storedAt : 0,
    fingerprint: o.fingerprint,
    name: typeof o.name === 'string' ? o.name : null,
  };
}

export function describeEntry(info: EntryInfo, bytes: number, complete: boolean): CachedModel {
  return { url: info.url, bytes, totalBytes: info.totalBytes, complete, etag: info.etag, lastModified: info.lastModified, storedAt: info.storedAt, name: info.name };
}
