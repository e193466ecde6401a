// The cache backends of browsers, Web Workers and other hosts without files: the Origin Private File
// System (one file per model, written as it streams in, so a download cut short resumes), else the Cache
// API, and a CacheObject of the caller's own (the Cache API is used through the same adapter).
import { describeEntry, parseInfo, urlKey, type EntryInfo, type EntryWriter, type PartialEntry, type Store, type StoredEntry } from './store.js';
import type { CachedModel, CacheObject } from './types.js';

const DIRECTORY = 'bimamba';
const CACHE_NAME = 'bimamba-models';
const INFO_HEADER = 'x-bimamba-info';

type Stored = EntryInfo & { complete: boolean };

/** `promise`, or an error saying `what` when it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Run `task` holding a Web Lock on the URL (one download per URL across tabs and workers), where there are locks. */
function withWebLock<T>(url: string, task: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks?.request) return task();
  return locks.request(`bimamba:${url}`, task) as Promise<T>;
}

/** Bytes the origin may still store: the estimate's quota less its usage (null where it cannot say). */
async function storageLeft(): Promise<number | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return null;
  try {
    const { quota, usage } = await storage.estimate();
    return quota === undefined || usage === undefined ? null : quota - usage;
  } catch {
    return null;
  }
}

/** Ask once for persistent storage (so the browser does not evict the model under pressure); never waits for the answer. */
let persistAsked = false;
export function offerPersistence(): void {
  if (persistAsked) return;
  persistAsked = true;
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.persist || !storage.persisted) return;
  storage.persisted().then((yes) => (yes ? undefined : storage.persist())).catch(() => {});
}

/** The OPFS directory, where OPFS and writable files exist (not in every browser's main thread). */
async function opfsDirectory(): Promise<FileSystemDirectoryHandle | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.getDirectory || typeof FileSystemFileHandle === 'undefined' || !('createWritable' in FileSystemFileHandle.prototype)) return null;
  try {
    const root = await storage.getDirectory();
    return await root.getDirectoryHandle(DIRECTORY, { create: true });
  } catch {
    return null; // a private window, say
  }
}

async function fileOf(dir: FileSystemDirectoryHandle, name: string): Promise<File | null> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

async function writeText(dir: FileSystemDirectoryHandle, name: string, text: string): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await w.write(text);
  await w.close();
}

async function remove(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.removeEntry(name);
    return true;
  } catch {
    return false;
  }
}

function opfsStore(dir: FileSystemDirectoryHandle): Store {
  const readStored = async (url: string): Promise<{ stored: Stored; file: File | null } | null> => {
    const key = urlKey(url);
    const text = await (await fileOf(dir, `${key}.json`))?.text();
    const info = text === undefined ? null : parseInfo(text);
    if (!info || info.url !== url) return null;
    return { stored: { ...info, complete: JSON.parse(text!).complete === true }, file: await fileOf(dir, `${key}.bimamba`) };
  };
  return {
    kind: 'opfs',
    async get(url): Promise<StoredEntry | null> {
      const found = await readStored(url);
      if (!found?.stored.complete || !found.file) return null;
      return { info: found.stored, source: found.file };
    },
    async partial(url): Promise<PartialEntry | null> {
      const found = await readStored(url);
      if (!found || found.stored.complete || !found.file || found.file.size === 0) return null;
      const file = found.file;
      return { info: found.stored, bytes: file.size, stream: () => file.stream() };
    },
    async open(info, resumeFrom): Promise<EntryWriter> {
      const key = urlKey(info.url);
      await writeText(dir, `${key}.json`, JSON.stringify({ ...info, complete: false }));
      const handle = await dir.getFileHandle(`${key}.bimamba`, { create: true });
      const writable = await handle.createWritable({ keepExistingData: resumeFrom > 0 });
      if (resumeFrom > 0) {
        await writable.truncate(resumeFrom);
        await writable.seek(resumeFrom);
      }
      return {
        write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
        async commit() {
          await writable.close();
          await writeText(dir, `${key}.json`, JSON.stringify({ ...info, complete: true }));
        },
        async abort(keep) {
          if (keep) {
            await writable.close().catch(() => {}); // what arrived stays, for a Range request next time
            return;
          }
          await writable.abort().catch(() => {});
          await remove(dir, `${key}.bimamba`);
          await remove(dir, `${key}.json`);
        },
      };
    },
    async delete(url) {
      const key = urlKey(url);
      if (!(await readStored(url))) return false;
      await remove(dir, `${key}.bimamba`);
      return remove(dir, `${key}.json`);
    },
    async list(): Promise<CachedModel[]> {
      const out: CachedModel[] = [];
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
        if (!name.endsWith('.json')) continue;
        const text = await (await fileOf(dir, name))?.text();
        const info = text === undefined ? null : parseInfo(text);
        if (!info) continue;
        const file = await fileOf(dir, name.replace(/\.json$/, '.bimamba'));
        out.push(describeEntry(info, file?.size ?? 0, JSON.parse(text!).complete === true));
      }
      return out;
    },
    available: storageLeft,
    exclusive: withWebLock,
  };
}

/** A store over Responses kept by key: the Cache API's, or a CacheObject of the caller's. No partial downloads. */
export function responseStore(cache: CacheObject, kind: 'cache-api' | 'custom', stallMs = 60_000): Store {
  const infoOf = (r: Response): EntryInfo | null => {
    const text = r.headers.get(INFO_HEADER);
    if (text === null) return null;
    try {
      return parseInfo(decodeURIComponent(text));
    } catch {
      return null;
    }
  };
  return {
    kind,
    async get(url): Promise<StoredEntry | null> {
      const r = await cache.get(url);
      const info = r && infoOf(r);
      if (!r || !info || info.url !== url || !r.body) return null;
      return { info, source: r };
    },
    async partial() {
      return null;
    },
    async open(info): Promise<EntryWriter> {
      // the body streams into put() as the model loads, a few chunks ahead at most: a cache that stops
      // taking bytes for stallMs is given up (a warning), so it can neither hold the load nor fill memory
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let room: (() => void) | null = null;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c), pull: () => { room?.(); room = null; } }, { highWaterMark: 8 });
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(info.totalBytes), [INFO_HEADER]: encodeURIComponent(JSON.stringify(info)) };
      let failure: unknown = null;
      const stored = Promise.resolve()
        .then(() => cache.put(info.url, new Response(body, { headers })))
        .catch((e) => {
          failure = e ?? new Error('the cache refused the entry');
          throw failure;
        });
      stored.catch(() => {}); // seen through write() and commit()
      const stalled = `the cache took no bytes for ${stallMs / 1000} s`;
      return {
        async write(chunk) {
          if (failure) throw failure;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) await within(Promise.race([new Promise<void>((r) => (room = r)), stored]), stallMs, stalled);
        },
        async commit() {
          controller.close();
          await within(stored, stallMs, `the cache did not finish storing within ${stallMs / 1000} s`);
        },
        async abort() {
          try {
            controller.error(new Error('the download stopped'));
          } catch {
            // already closed or errored
          }
          await within(stored, stallMs, stalled).catch(() => {});
          await within(Promise.resolve(cache.delete(info.url)), stallMs, stalled).catch(() => {});
        },
      };
    },
    async delete(url) {
      return (await cache.delete(url)) === true;
    },
    async list(): Promise<CachedModel[]> {
      const out: CachedModel[] = [];
      for (const key of await cache.keys()) {
        const r = await cache.get(key);
        const info = r && infoOf(r);
        await r?.body?.cancel().catch(() => {});
        if (info) out.push(describeEntry(info, info.totalBytes, true));
      }
      return out;
    },
    available: kind === 'cache-api' ? storageLeft : undefined,
    exclusive: withWebLock,
  };
}

/** The Cache API as a CacheObject. */
async function cacheApi(): Promise<CacheObject | null> {
  if (typeof caches === 'undefined') return null; // not a secure context, or no Cache API
  try {
    const c = await caches.open(CACHE_NAME);
    return {
      get: (key) => c.match(key),
      put: (key, response) => c.put(key, response),
      delete: (key) => c.delete(key),
      keys: async () => (await c.keys()).map((r) => r.url),
    };
  } catch {
    return null;
  }
}

/** The default store where there are no files: OPFS, else the Cache API, else none. */
export async function browserStore(): Promise<Store | null> {
  const dir = await opfsDirectory();
  if (dir) return opfsStore(dir);
  const api = await cacheApi();
  return api ? responseStore(api, 'cache-api') : null;
}
