// The public types of model caching (docs/caching.md): what `loadModel(url, { cache })` accepts and what
// listCachedModels() reports.

/**
 * Storage of your own for cached models (IndexedDB, a test's Map, a server's object store): each model is
 * kept as one Response under its URL, its body the whole file, its headers what the cache needs to know
 * (`content-length`, the origin's `etag` and `last-modified`, and bimamba's own `x-bimamba-*` entries).
 * The Web Cache API's `Cache` fits once wrapped: `{ get: (k) => c.match(k), put: (k, r) => c.put(k, r), ... }`.
 */
export interface CacheObject {
  /** The Response stored under `key`, or undefined. Each call gives a body that can be read once. */
  get(key: string): Promise<Response | undefined>;
  /** Store `response` (read its body to the end) under `key`; reject to keep nothing. */
  put(key: string, response: Response): Promise<void>;
  /** Remove `key`; whether something was there. */
  delete(key: string): Promise<boolean | void>;
  /** Every key stored. */
  keys(): Promise<string[]>;
}

/**
 * How `loadModel` caches an http(s) URL: `true` reads a cached copy without asking the server (the
 * first load fetches and stores it), `'revalidate'` asks the server whether the copy is still current
 * (If-None-Match / If-Modified-Since; offline, the copy loads), a CacheObject stores in it instead of
 * the default place (the Origin Private File System, else the Cache API; a directory on disk in Node,
 * Deno and Bun). Other sources (paths, bytes, file: URLs) load as they always do.
 */
export type CacheOption = boolean | 'revalidate' | CacheObject;

/** One cached model, as listCachedModels() reports it. */
export interface CachedModel {
  /** The URL it was fetched from. */
  url: string;
  /** Bytes it holds (for a partial download, the bytes received so far). */
  bytes: number;
  /** The whole file's size. */
  totalBytes: number;
  /** Whether the download finished (a partial one resumes with a Range request on the next load). */
  complete: boolean;
  /** The origin's ETag and Last-Modified when it was stored. */
  etag: string | null;
  lastModified: string | null;
  /** When it was stored (ms since 1970). */
  storedAt: number;
  /** The name `bimamba pull --name` gave it (disk cache), else null. */
  name: string | null;
}
