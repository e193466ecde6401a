// The prompt cache: the recurrent state at points of earlier prompts, so a request that starts with the
// same tokens (a chat client re-sending its conversation, an evaluation re-sending a context) restores
// the longest such point and reads only the rest. A Mamba's state is a fixed size whatever it has read,
// so one entry is one snapshot (model.stateBytes), not a KV cache growing with the prompt.
//
// Exactness: a prompt is fed in a fixed schedule, cut at every FEED_SLICE multiple and at every cache
// point the request names (its messages' ends); each cut is one call into the model, and the stored
// state's rounding (bf16) happens per call. An entry is keyed by the SHA-256 of the token ids up to it
// AND of the cuts before it, so a restored state is bit for bit the state the same request reaches
// without the cache, and the rest of the request is fed in the same cuts.
//
// Keys: `<fingerprint>-pc-<state type>-<sha256 hex>`. A session's key is `<fingerprint>.<name>`, so no
// session name reaches a cache entry (and the other way round) even in one shared store. A guessed or
// colliding prefix cannot reach another prompt's state: the key is a cryptographic hash of the ids.
// The hash covers a scope too, the API key's owner id: one key's prompts are never found by another's
// (a hit, or how fast the answer came, would tell that someone sent that prompt). Without keys every
// client shares one scope, as they share session names.
//
// Bounds: the entries this process saved hold at most `maxBytes`; past that the oldest it saved are
// deleted from the store, whatever the store (a directory or Redis has no byte cap of its own for them).
import type { Model } from '../model/model.js';
export { FEED_SLICE, feedCuts } from '../chat/feed.js';
import type { SnapshotStore } from './store.js';

/** Lengths the in-process index remembers (each a few dozen bytes). */
const MAX_INDEXED = 65_536;
/** The entries' byte budget unless given. */
export const DEFAULT_PROMPT_CACHE_BYTES = 64 * 1024 * 1024;
/** Entries tried per request, longest first. */
const MAX_TRIES = 6;

/** Counters for /metrics. */
export interface PromptCacheStats {
  lookups: number;
  hits: number;
  /** Prompt tokens not fed thanks to the cache. */
  tokensSaved: number;
  saved: number;
}

/** Two 32-bit FNV-1a lanes over the ids, as a running value per prefix: the index's cheap first look. */
function runningHashes(ids: readonly number[], upTo: number): Uint32Array {
  const out = new Uint32Array(2 * (upTo + 1));
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < upTo; i++) {
    const v = ids[i];
    for (let k = 0; k < 4; k++) {
      const byte = (v >>> (8 * k)) & 0xff;
      a = Math.imul(a ^ byte, 0x01000193);
      b = Math.imul(b ^ byte, 0x01000193) ^ (b >>> 15);
    }
    out[2 * (i + 1)] = a >>> 0;
    out[2 * (i + 1) + 1] = b >>> 0;
  }
  return out;
}

export class PromptCache {
  readonly store: SnapshotStore;
  readonly stats: PromptCacheStats = { lookups: 0, hits: 0, tokensSaved: 0, saved: 0 };
  readonly maxBytes: number;
  private readonly prefix: string;
  /** `scope length:laneA:laneB` of every entry this process saved (insertion order: oldest first). */
  private readonly index = new Set<string>();
  /** Store key -> bytes of every entry this process saved and has not deleted (oldest first). */
  private readonly saves = new Map<string, number>();
  private savedBytes = 0;

  constructor(store: SnapshotStore, model: Model, maxBytes = DEFAULT_PROMPT_CACHE_BYTES) {
    this.store = store;
    this.maxBytes = maxBytes;
    this.prefix = `${model.fingerprint.toString(16).padStart(8, '0')}-pc-${model.stateType}${model.exact ? 'x' : ''}-`;
  }

  /** Bytes of the entries this process saved that are still in its budget. */
  get bytes(): number {
    return this.savedBytes;
  }

  /** The store key of the state after ids[0, length) fed in `cuts`, in `scope`. */
  async key(scope: string, ids: readonly number[], length: number, cuts: readonly number[]): Promise<string> {
    const before = cuts.filter((c) => c < length);
    const scopeBytes = new TextEncoder().encode(scope);
    const words = new Uint32Array(3 + length + before.length + Math.ceil(scopeBytes.length / 4));
    words[0] = length;
    words[1] = before.length;
    words[2] = scopeBytes.length;
    for (let i = 0; i < length; i++) words[3 + i] = ids[i];
    for (let i = 0; i < before.length; i++) words[3 + length + i] = before[i];
    new Uint8Array(words.buffer, 4 * (3 + length + before.length)).set(scopeBytes);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', words));
    let hex = '';
    for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
    return this.prefix + hex;
  }

  /**
   * The longest cut of `ids` (at most `upTo`) whose state is cached: its length and snapshot, or null.
   * Cuts this process saved are found by the index; the request's own cache points are tried in the
   * store as well (a shared store may hold another server's entries).
   */
  async lookup(scope: string, ids: readonly number[], cuts: readonly number[], points: readonly number[], upTo: number): Promise<{ length: number; bytes: Uint8Array } | null> {
    this.stats.lookups++;
    const hashes = runningHashes(ids, upTo);
    const wanted = new Set(points);
    const indexKeyOf = (c: number) => `${scope} ${c}:${hashes[2 * c]}:${hashes[2 * c + 1]}`;
    const candidates = cuts.filter((c) => c <= upTo && (wanted.has(c) || this.index.has(indexKeyOf(c))));
    for (const length of candidates.reverse().slice(0, MAX_TRIES)) {
      const key = await this.key(scope, ids, length, cuts);
      const bytes = await this.store.get(key);
      const indexKey = indexKeyOf(length);
      if (!bytes) {
        this.index.delete(indexKey); // dropped by the store's LRU, or another server's that never was
        continue;
      }
      this.stats.hits++;
      this.stats.tokensSaved += length;
      return { length, bytes };
    }
    return null;
  }

  /** Keep `bytes`, the state after ids[0, length) fed in `cuts`, in `scope`; the oldest entries go past the budget. */
  async save(scope: string, ids: readonly number[], length: number, cuts: readonly number[], bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.maxBytes) return;
    const key = await this.key(scope, ids, length, cuts);
    await this.store.set(key, bytes);
    this.stats.saved++;
    this.savedBytes += bytes.length - (this.saves.get(key) ?? 0);
    this.saves.delete(key);
    this.saves.set(key, bytes.length);
    for (const [old, n] of this.saves) {
      if (this.savedBytes <= this.maxBytes) break;
      this.saves.delete(old);
      this.savedBytes -= n;
      await this.store.delete(old);
    }
    const h = runningHashes(ids, length);
    const indexKey = `${scope} ${length}:${h[2 * length]}:${h[2 * length + 1]}`;
    this.index.delete(indexKey);
    this.index.add(indexKey);
    for (const oldest of this.index) {
      if (this.index.size <= MAX_INDEXED) break;
      this.index.delete(oldest);
    }
  }
}
