// Parked sessions as files in one directory (Node, Deno, Bun): KEY.bmss, written to a temporary file and
// renamed, so a reader never sees half a snapshot and a crash never leaves one.
import { BimambaError } from '../errors.js';
import type { SnapshotStore } from './store.js';
import * as host from '../host/node.js';

/** Keys become file names: only these characters, never a leading dot, so no key leaves the directory. */
const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;

function fileName(key: string): string {
  if (!SAFE_KEY.test(key)) throw new BimambaError('BAD_ARGUMENT', `invalid session store key: ${JSON.stringify(key)}`);
  return `${key}.bmss`;
}

export class DirectoryStore implements SnapshotStore {
  readonly dir: string;
  private made: Promise<void> | null = null;

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new BimambaError('BAD_ARGUMENT', 'DirectoryStore needs a directory path');
    this.dir = dir;
  }

  private async path(key: string): Promise<string> {
    const name = fileName(key);
    const fs = await host.fsPromises();
    const { join } = await host.path();
    this.made ??= fs.mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.made;
    return join(this.dir, name);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = await this.path(key);
    const fs = await host.fsPromises();
    try {
      const buf = await fs.readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    const path = await this.path(key);
    const fs = await host.fsPromises();
    const staged = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.writeFile(staged, bytes, { flag: 'wx' });
      await fs.rename(staged, path);
    } catch (e) {
      await fs.rm(staged, { force: true });
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    const fs = await host.fsPromises();
    await fs.rm(await this.path(key), { force: true });
  }
}
