// Parked sessions in Redis, so that several servers behind a load balancer continue each other's sessions.
// It takes a connected client of the `redis` npm package (node-redis 4+), or anything with the same
// three calls; keys live under a prefix, and an optional expiry forgets sessions left idle.
import { BimambaError } from '../errors.js';
import type { SnapshotStore } from './store.js';

/** The calls of a node-redis client (the `redis` npm package, v5) this store uses. */
export interface RedisLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: Buffer, options?: { EX?: number }): Promise<unknown>;
  del(key: string): Promise<unknown>;
  withTypeMapping?(mapping: Record<number, unknown>): RedisLike;
}

/** RESP3 type code of a blob string ('$'), mapped to Buffer so snapshots come back as bytes, not text. */
const BLOB_STRING = 36;

export interface RedisStoreOptions {
  /** Key prefix (default 'bimamba:session:'). */
  prefix?: string;
  /** Forget a session this many seconds after it was last written (default: never). */
  ttlSeconds?: number;
}

export class RedisStore implements SnapshotStore {
  private readonly client: RedisLike;
  private readonly prefix: string;
  private readonly ttl?: number;

  constructor(client: RedisLike, options: RedisStoreOptions = {}) {
    if (!client || typeof client.get !== 'function' || typeof client.set !== 'function') throw new BimambaError('BAD_ARGUMENT', 'RedisStore needs a redis client');
    const ttl = options.ttlSeconds;
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ttlSeconds: ${ttl} (a positive integer)`);
    this.client = client.withTypeMapping?.({ [BLOB_STRING]: Buffer }) ?? client;
    this.prefix = options.prefix ?? 'bimamba:session:';
    this.ttl = ttl;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const value = await this.client.get(this.prefix + key);
    if (value === null || value === undefined) return null;
    if (value instanceof Uint8Array) return value;
    throw new BimambaError('BAD_FORMAT', `redis returned a ${typeof value} for session ${JSON.stringify(key)}, not bytes`);
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await this.client.set(this.prefix + key, value, this.ttl ? { EX: this.ttl } : undefined);
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }
}
