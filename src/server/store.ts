// Where idle sessions are parked: snapshot bytes (src/model/snapshot.ts) under a key. The server writes a
// session's snapshot back after every request and reads it at the next one, so any store that several
// servers share (Redis, a directory on a shared disk) lets them continue each other's sessions.
import { BimambaError } from '../errors.js';

export interface SnapshotStore {
  /** The bytes stored under `key`, or null. */
  get(key: string): Promise<Uint8Array | null>;
  /**
   * Store `bytes` under `key`, replacing what was there. `replacing`, when given, is what get() returned
   * for `key` before this session was continued (null: nothing). A store that several servers share may
   * then refuse with a BimambaError of code CONFLICT when the key was written since (another server
   * continued the same session meanwhile), so that of two continuations at the same moment the second to
   * finish fails instead of silently replacing the first. A store of one process may ignore it: one
   * server runs a session's requests one after another.
   */
  set(key: string, bytes: Uint8Array, replacing?: Uint8Array | null): Promise<void>;
  /** Forget `key` (no error if it is not there). */
  delete(key: string): Promise<void>;
}

/** How long a parked session is kept after it was last written, unless a store is told otherwise: one day. */
export const DEFAULT_TTL_SECONDS = 24 * 60 * 60;

function checkTtl(ttl: number | undefined): number {
  const t = ttl ?? DEFAULT_TTL_SECONDS;
  if (!(Number.isSafeInteger(t) && t > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ttlSeconds: ${t} (a positive integer)`);
  return t;
}
export { checkTtl as checkTtlSeconds };

export interface MemoryStoreOptions {
  /** Forget a session this many seconds after it was last written (default one day). */
  ttlSeconds?: number;
}

/**
 * Snapshots in this process's memory, the least recently used dropped first once they pass `maxBytes`,
 * and any one `ttlSeconds` after it was last written. A session dropped either way starts afresh at its
 * next request (the app says so: `bimamba-session-status: new`). set() keeps the array it is given (a
 * copy of a 1 MB snapshot per request is time on the server's one thread): the caller must not change it after.
 */
export class MemoryStore implements SnapshotStore {
  readonly maxBytes: number;
  readonly ttlSeconds: number;
  private readonly entries = new Map<string, { bytes: Uint8Array; written: number }>(); // insertion order = least recently used first
  private total = 0;

  constructor(maxBytes = 512 * 1024 * 1024, options: MemoryStoreOptions = {}) {
    if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid maxBytes: ${maxBytes} (a positive integer)`);
    this.maxBytes = maxBytes;
    this.ttlSeconds = checkTtl(options.ttlSeconds);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  private expired(written: number): boolean {
    return Date.now() - written > this.ttlSeconds * 1000;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (this.expired(entry.written)) {
      await this.delete(key);
      return null;
    }
    this.entries.delete(key); // move to the most recently used end
    this.entries.set(key, entry);
    return entry.bytes;
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    await this.delete(key);
    if (bytes.length > this.maxBytes) {
      throw new BimambaError('OUT_OF_MEMORY', `a ${bytes.length}-byte snapshot does not fit the session store's ${this.maxBytes}-byte cap`);
    }
    this.entries.set(key, { bytes, written: Date.now() }); // kept as given, not copied: the server hands over fresh snapshots
    this.total += bytes.length;
    for (const [oldest, old] of this.entries) {
      if (this.total <= this.maxBytes && !this.expired(old.written)) break;
      this.entries.delete(oldest);
      this.total -= old.bytes.length;
    }
  }

  async delete(key: string): Promise<void> {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.total -= old.bytes.length;
  }
}
