// Who parked which session, so that no one owner fills a store: at most `perOwner` parked sessions per
// API key (per client address when the server has no keys); past that the owner's least recently used
// session is dropped from the store (its next request starts afresh and is told so). The count is this
// process's: several servers sharing a store each keep their own.
//
// A session belongs to the key that created it: with keys, its stored value starts with an owner tag,
// and another key continuing it gets 404, never the state. Without keys every client shares one space
// of names, and a session's name is all it takes to continue it.
const OWNER_MAGIC = 'BMOW';
const OWNER_BYTES = 16; // the guard's owner id: 16 hex characters
const ENVELOPE = OWNER_MAGIC.length + OWNER_BYTES;
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/** The stored value: the snapshot, after an owner tag when there is an owner. */
export function wrapOwned(owner: string, snapshot: Uint8Array): Uint8Array {
  if (owner === '') return snapshot;
  const out = new Uint8Array(ENVELOPE + snapshot.length);
  for (let i = 0; i < ENVELOPE; i++) out[i] = (OWNER_MAGIC + owner).charCodeAt(i);
  out.set(snapshot, ENVELOPE);
  return out;
}

/** The owner ('' for none) and snapshot of a stored value. */
export function unwrapOwned(value: Uint8Array): { owner: string; snapshot: Uint8Array } {
  if (value.length >= ENVELOPE && latin1(value.subarray(0, OWNER_MAGIC.length)) === OWNER_MAGIC) {
    return { owner: latin1(value.subarray(OWNER_MAGIC.length, ENVELOPE)), snapshot: value.subarray(ENVELOPE) };
  }
  return { owner: '', snapshot: value };
}

/** Most owners' lists kept at once (the oldest owner's list is forgotten past it, never its sessions). */
const MAX_OWNERS = 10_000;

export class ParkedIndex {
  readonly perOwner: number;
  private readonly byOwner = new Map<string, Map<string, true>>(); // both in least recently used order

  constructor(perOwner: number) {
    this.perOwner = perOwner;
  }

  /** How many sessions `owner` has parked, as this process counts. */
  count(owner: string): number {
    return this.byOwner.get(owner)?.size ?? 0;
  }

  /** `owner` parked `key` now; the keys to drop from the store to keep it within its cap. */
  parked(owner: string, key: string): string[] {
    let keys = this.byOwner.get(owner);
    if (keys) this.byOwner.delete(owner);
    keys ??= new Map();
    this.byOwner.set(owner, keys);
    keys.delete(key);
    keys.set(key, true);
    const dropped: string[] = [];
    for (const old of keys.keys()) {
      if (keys.size <= this.perOwner) break;
      keys.delete(old);
      dropped.push(old);
    }
    for (const old of this.byOwner.keys()) {
      if (this.byOwner.size <= MAX_OWNERS) break;
      this.byOwner.delete(old);
    }
    return dropped;
  }
}
