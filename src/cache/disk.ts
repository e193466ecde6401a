// The cache on disk (Node, Deno, Bun): one directory ($BIMAMBA_CACHE, else $XDG_CACHE_HOME/bimamba,
// else ~/.cache/bimamba) holding, per URL, KEY.bimamba and KEY.json (the file and what is known of it),
// while downloading KEY.partial and KEY.partial.json (resumed with a Range request), and KEY.lock
// (created with O_EXCL, so one process downloads a URL at a time; a lock whose process is gone is stale).
// Files become entries by rename, so a reader never sees half of one. Reached only through host/node.ts,
// so the browser and Worker builds never include it.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BimambaError } from '../errors.js';
import { describeEntry, parseInfo, urlKey, type EntryInfo, type EntryWriter, type PartialEntry, type Store, type StoredEntry } from './store.js';
import type { CachedModel } from './types.js';

/** The cache directory this process uses. */
export function cacheDirectory(env: Record<string, string | undefined> = process.env): string {
  if (env.BIMAMBA_CACHE) return env.BIMAMBA_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'bimamba');
  return join(homedir(), '.cache', 'bimamba');
}

const LOCK_POLL_MS = 100;
/** A lock file that could not be read (its writer died between creating and filling it) is stale after this. */
const UNREADABLE_LOCK_MS = 10_000;
const READ_CHUNK = 1 << 20;

const errno = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

async function readText(path: string): Promise<string | null> {
  const size = await sizeOf(path);
  if (size === null || size > 1 << 20) return null; // a link, a FIFO, a huge file: not an info file of ours
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** The size of a regular file (a symlink or anything else planted in the cache is not one of ours). */
async function sizeOf(path: string): Promise<number | null> {
  try {
    const s = await lstat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Write a small file atomically: a temporary beside it, then rename. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await rm(temp, { force: true });
  await writeFile(temp, text, { flag: 'wx' }); // never through a link someone left there
  await rename(temp, path);
}

/** Whether the process that wrote `lock` is gone (or the lock is unreadable and old). */
async function isStale(lock: string): Promise<boolean> {
  const text = await readText(lock);
  let pid: unknown;
  try {
    pid = JSON.parse(text ?? '').pid;
  } catch {
    pid = undefined;
  }
  if (!Number.isInteger(pid) || (pid as number) <= 0) {
    try {
      return Date.now() - (await stat(lock)).mtimeMs > UNREADABLE_LOCK_MS;
    } catch {
      return false; // gone already: try again
    }
  }
  try {
    process.kill(pid as number, 0);
    return false;
  } catch (e) {
    return errno(e) === 'ESRCH'; // EPERM: it exists, someone else's
  }
}

/** Run `task` holding `lock`. */
async function withLockFile<T>(lock: string, task: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw new BimambaError('BAD_ARGUMENT', `cannot create the lock file ${lock}: ${(e as Error).message}`, { cause: e });
      if (await isStale(lock)) {
        // move it aside under a name of our own first: of two processes that found it stale, one wins
        const aside = `${lock}.${process.pid}.stale`;
        try {
          await rename(lock, aside);
          await rm(aside, { force: true });
        } catch {
          // another process moved it first
        }
        continue;
      }
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
  }
  try {
    return await task();
  } finally {
    await rm(lock, { force: true });
  }
}

/** The bytes of a file from its start, as a stream of chunks. */
function fileStream(path: string, bytes: number): ReadableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | null = null;
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      fh ??= await open(path, 'r');
      if (pos >= bytes) {
        await fh.close();
        return controller.close();
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK, bytes - pos));
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, pos);
      if (bytesRead === 0) {
        await fh.close();
        return controller.close();
      }
      pos += bytesRead;
      controller.enqueue(buffer.subarray(0, bytesRead));
    },
    async cancel() {
      await fh?.close();
    },
  });
}

/** The disk store, plus what the CLI needs: the directory, where an entry's file lies, renaming an entry. */
export interface DiskStore extends Store {
  readonly directory: string;
  fileOf(url: string): string;
  setName(url: string, name: string): Promise<void>;
}

export function diskStore(dir: string = cacheDirectory()): DiskStore {
  const paths = (url: string) => {
    const key = urlKey(url);
    const base = join(dir, key);
    return { file: `${base}.bimamba`, info: `${base}.json`, partial: `${base}.partial`, partialInfo: `${base}.partial.json`, lock: `${base}.lock` };
  };
  const infoAt = async (path: string, url: string | null): Promise<EntryInfo | null> => {
    const text = await readText(path);
    const info = text === null ? null : parseInfo(text);
    return info && (url === null || info.url === url) ? info : null;
  };
  return {
    kind: 'disk',
    directory: dir,
    fileOf: (url) => paths(url).file,
    async setName(url, name) {
      const p = paths(url);
      const info = await infoAt(p.info, url);
      if (info) await writeAtomic(p.info, JSON.stringify({ ...info, name }));
    },
    async get(url): Promise<StoredEntry | null> {
      const p = paths(url);
      const info = await infoAt(p.info, url);
      if (!info || (await sizeOf(p.file)) === null) return null;
      return { info, source: p.file };
    },
    async partial(url): Promise<PartialEntry | null> {
      const p = paths(url);
      const info = await infoAt(p.partialInfo, url);
      const bytes = await sizeOf(p.partial);
      if (!info || !bytes || bytes > info.totalBytes) return null;
      return { info, bytes, stream: () => fileStream(p.partial, bytes) };
    },
    async open(info, resumeFrom): Promise<EntryWriter> {
      const p = paths(info.url);
      await mkdir(dir, { recursive: true });
      await writeAtomic(p.partialInfo, JSON.stringify(info));
      // a fresh file is created (O_EXCL: not through a link planted there); a resumed one is opened without following links
      if (resumeFrom === 0) await rm(p.partial, { force: true });
      const fh = await open(p.partial, resumeFrom > 0 ? constants.O_RDWR | (constants.O_NOFOLLOW ?? 0) : 'wx');
      if (resumeFrom > 0) await fh.truncate(resumeFrom);
      let pos = resumeFrom;
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await fh.close();
      };
      return {
        async write(chunk) {
          for (let done = 0; done < chunk.length;) {
            const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, pos);
            done += bytesWritten;
            pos += bytesWritten;
          }
        },
        async commit() {
          await fh.sync();
          await close();
          await rename(p.partial, p.file);
          await writeAtomic(p.info, JSON.stringify({ ...info, storedAt: Date.now() }));
          await rm(p.partialInfo, { force: true });
        },
        async abort(keep) {
          await close().catch(() => {});
          if (keep) return; // KEY.partial and its info stay for a Range request next time
          await rm(p.partial, { force: true });
          await rm(p.partialInfo, { force: true });
        },
      };
    },
    async delete(url) {
      const p = paths(url);
      const had = (await infoAt(p.info, url)) !== null || (await infoAt(p.partialInfo, url)) !== null;
      for (const path of [p.file, p.info, p.partial, p.partialInfo]) await rm(path, { force: true });
      return had;
    },
    async list(): Promise<CachedModel[]> {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return [];
      }
      const out: CachedModel[] = [];
      for (const name of names.sort()) {
        const partial = name.endsWith('.partial.json');
        if (!name.endsWith('.json') || !/^[0-9a-f]{16}\./.test(name)) continue;
        const info = await infoAt(join(dir, name), null);
        if (!info) continue;
        const data = join(dir, name.slice(0, 16) + (partial ? '.partial' : '.bimamba'));
        out.push(describeEntry(info, (await sizeOf(data)) ?? 0, !partial));
      }
      return out;
    },
    async available() {
      try {
        await mkdir(dir, { recursive: true });
        const s = await statfs(dir);
        return s.bavail * s.bsize;
      } catch {
        return null;
      }
    },
    async exclusive(url, task) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (e) {
        throw new BimambaError('BAD_ARGUMENT', `cannot create the cache directory ${dir}: ${(e as Error).message}`, { cause: e });
      }
      return withLockFile(paths(url).lock, task);
    },
  };
}
