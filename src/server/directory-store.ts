// Parked sessions as files in one directory (Node, Deno, Bun): KEY.bmss, written to a temporary file and
// renamed, so a reader never sees half a snapshot and a crash never leaves one. Bounded: at most
// `maxFiles` snapshots and `maxBytes` bytes (the oldest written goes first), each kept `ttlSeconds`.
import { BimambaError } from '../errors.js';
import { checkTtlSeconds, type SnapshotStore } from './store.js';
import * as host from '../host/node.js';

/** Keys become file names: only these characters, never a leading dot, so no key leaves the directory. */
const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;
const SUFFIX = '.bmss';

function fileName(key: string): string {
  if (!SAFE_KEY.test(key)) throw new BimambaError('BAD_ARGUMENT', `invalid session store key: ${JSON.stringify(key.slice(0, 100))}`);
  return `${key}${SUFFIX}`;
}

export interface DirectoryStoreOptions {
  /** Forget a session this many seconds after it was last written (default one day). */
  ttlSeconds?: number;
  /** Most bytes of snapshots in the directory (default 1 GiB). */
  maxBytes?: number;
  /** Most snapshots in the directory (default 10,000). */
  maxFiles?: number;
}

function positive(name: string, v: number): number {
  if (!(Number.isSafeInteger(v) && v > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ${name}: ${v} (a positive integer)`);
  return v;
}

export class DirectoryStore implements SnapshotStore {
  readonly dir: string;
  readonly ttlSeconds: number;
  readonly maxBytes: number;
  readonly maxFiles: number;
  /** What this process knows is in the directory: key -> size and write time, oldest written first. */
  private index: Map<string, { bytes: number; written: number }> | null = null;
  private total = 0;
  private opened: Promise<void> | null = null;

  constructor(dir: string, options: DirectoryStoreOptions = {}) {
    if (typeof dir !== 'string' || dir === '') throw new BimambaError('BAD_ARGUMENT', 'DirectoryStore needs a directory path');
    this.dir = dir;
    this.ttlSeconds = checkTtlSeconds(options.ttlSeconds);
    this.maxBytes = positive('maxBytes', options.maxBytes ?? 1024 * 1024 * 1024);
    this.maxFiles = positive('maxFiles', options.maxFiles ?? 10_000);
  }

  /** Bytes of snapshots held now (as this process counts them). */
  get bytes(): number {
    return this.total;
  }
  get size(): number {
    return this.index?.size ?? 0;
  }

  /** Make the directory and count what is already in it (once). */
  private open(): Promise<void> {
    this.opened ??= (async () => {
      const fs = await host.fsPromises();
      const { join } = await host.path();
      await fs.mkdir(this.dir, { recursive: true });
      const found: Array<[string, { bytes: number; written: number }]> = [];
      for (const name of await fs.readdir(this.dir)) {
        if (!name.endsWith(SUFFIX) || !SAFE_KEY.test(name.slice(0, -SUFFIX.length))) continue;
        const s = await fs.stat(join(this.dir, name)).catch(() => null);
        if (s?.isFile()) found.push([name.slice(0, -SUFFIX.length), { bytes: s.size, written: s.mtimeMs }]);
      }
      found.sort((a, b) => a[1].written - b[1].written);
      this.index = new Map(found);
      for (const [, e] of found) this.total += e.bytes;
      await this.evict();
    })();
    return this.opened;
  }

  private async path(key: string): Promise<string> {
    const name = fileName(key);
    await this.open();
    const { join } = await host.path();
    return join(this.dir, name);
  }

  private expired(written: number): boolean {
    return Date.now() - written > this.ttlSeconds * 1000;
  }

  private forget(key: string): void {
    const e = this.index!.get(key);
    if (!e) return;
    this.index!.delete(key);
    this.total -= e.bytes;
  }

  /** Remove the oldest files until the caps hold and nothing expired is left at the old end. */
  private async evict(): Promise<void> {
    const fs = await host.fsPromises();
    const { join } = await host.path();
    for (const [key, e] of this.index!) {
      if (this.index!.size <= this.maxFiles && this.total <= this.maxBytes && !this.expired(e.written)) break;
      this.forget(key);
      await fs.rm(join(this.dir, fileName(key)), { force: true });
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = await this.path(key);
    const fs = await host.fsPromises();
    try {
      const s = await fs.stat(path);
      if (this.expired(s.mtimeMs)) {
        await this.delete(key);
        return null;
      }
      const buf = await fs.readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    const path = await this.path(key);
    if (bytes.length > this.maxBytes) {
      throw new BimambaError('OUT_OF_MEMORY', `a ${bytes.length}-byte snapshot does not fit the session store's ${this.maxBytes}-byte cap`);
    }
    const fs = await host.fsPromises();
    const staged = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.writeFile(staged, bytes, { flag: 'wx' });
      await fs.rename(staged, path);
    } catch (e) {
      await fs.rm(staged, { force: true });
      throw e;
    }
    this.forget(key);
    this.index!.set(key, { bytes: bytes.length, written: Date.now() });
    this.total += bytes.length;
    await this.evict();
  }

  async delete(key: string): Promise<void> {
    const path = await this.path(key);
    const fs = await host.fsPromises();
    this.forget(key);
    await fs.rm(path, { force: true });
  }
}
