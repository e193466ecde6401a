// Parked sessions in Redis, so that several servers behind a load balancer continue each other's sessions.
// It takes a connected client of the `redis` npm package (node-redis 5), or anything with the same
// calls; keys live under a prefix, and an optional expiry forgets sessions left idle.
//
// Two servers continuing one session at the same moment: each value starts with a tag, new at every
// write, and a write that names what it replaces (SnapshotStore.set's `replacing`) goes through only if
// the tag is still the one read, checked and written in one Lua script (atomic in Redis). The second
// server to finish gets a CONFLICT error instead of silently replacing the first one's continuation.
import { BimambaError } from '../errors.js';
import { checkTtlSeconds, type SnapshotStore } from './store.js';

/** The calls of a node-redis client (the `redis` npm package, v5) this store uses. */
export interface RedisLike {
  get(key: string): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: Array<string | Buffer> }): Promise<unknown>;
  del(key: string): Promise<unknown>;
  withTypeMapping?(mapping: Record<number, unknown>): RedisLike;
}

/** A stored value is TAG_BYTES ASCII characters (a random tag, new at every write), then the snapshot. */
const TAG_BYTES = 16;

/** SET KEYS[1] ARGV[2] (EX ARGV[3] unless '') if the value's tag is ARGV[1] ('': no value; '*': any). */
const SET_IF_TAG = `
local tag = redis.call('GETRANGE', KEYS[1], 0, ${TAG_BYTES - 1})
if ARGV[1] ~= '*' and tag ~= ARGV[1] then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1`;

function newTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TAG_BYTES / 2));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** RESP3 type code of a blob string ('$'), mapped to Buffer so snapshots come back as bytes, not text. */
const BLOB_STRING = 36;

export interface RedisStoreOptions {
  /** Key prefix (default 'bimamba:session:'). */
  prefix?: string;
  /** Forget a session this many seconds after it was last written (default one day). */
  ttlSeconds?: number;
}

export class RedisStore implements SnapshotStore {
  private readonly client: RedisLike;
  private readonly prefix: string;
  private readonly ttl: number;
  /** The tag each snapshot get() returned was stored with. */
  private readonly tags = new WeakMap<Uint8Array, string>();

  constructor(client: RedisLike, options: RedisStoreOptions = {}) {
    if (!client || typeof client.get !== 'function' || typeof client.eval !== 'function') throw new BimambaError('BAD_ARGUMENT', 'RedisStore needs a redis client');
    const ttl = checkTtlSeconds(options.ttlSeconds);
    this.client = client.withTypeMapping?.({ [BLOB_STRING]: Buffer }) ?? client;
    this.prefix = options.prefix ?? 'bimamba:session:';
    this.ttl = ttl;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const value = await this.client.get(this.prefix + key);
    if (value === null || value === undefined) return null;
    if (!(value instanceof Uint8Array)) throw new BimambaError('BAD_FORMAT', `redis returned a ${typeof value} for session ${JSON.stringify(key)}, not bytes`);
    if (value.length < TAG_BYTES) throw new BimambaError('BAD_FORMAT', `the value of session ${JSON.stringify(key)} in redis is too short to be a snapshot`);
    const snapshot = value.subarray(TAG_BYTES);
    this.tags.set(snapshot, new TextDecoder().decode(value.subarray(0, TAG_BYTES)));
    return snapshot;
  }

  async set(key: string, bytes: Uint8Array, replacing?: Uint8Array | null): Promise<void> {
    let expected = '*';
    if (replacing === null) expected = '';
    else if (replacing !== undefined) {
      const tag = this.tags.get(replacing);
      if (tag === undefined) throw new BimambaError('BAD_ARGUMENT', "replacing must be a snapshot this store's get() returned");
      expected = tag;
    }
    const value = Buffer.concat([Buffer.from(newTag(), 'latin1'), bytes]);
    const args = [expected, value, String(this.ttl)];
    const written = await this.client.eval(SET_IF_TAG, { keys: [this.prefix + key], arguments: args });
    if (written !== 1) {
      throw new BimambaError('CONFLICT', `session ${JSON.stringify(key)} was written by another server since it was read; this continuation was not saved`);
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }
}
