// Parked sessions in Durable Objects: one object per session name holds that session's snapshot in its
// storage, so a session outlives the isolate that served it and any isolate, anywhere, continues it.
// `SessionObject` is the Durable Object class (wrangler.toml binds it as SESSIONS), and
// `DurableObjectStore` is the server's session store (bimamba/server's SnapshotStore) that talks to it.
//
// Two requests continuing one session at the same moment: every write gets a new tag (the ETag), and the
// store writes with If-Match (the tag it read) or If-None-Match: * (it read nothing), so the second
// to finish gets a 412, which the store reports as a CONFLICT (the client gets a 409).
//
// A session is forgotten `ttlSeconds` after it was last written (one day by default, as every store of
// the server): a read past that finds nothing, and an alarm set at each write deletes the object's
// storage then, so names no one continues do not stay in storage for ever.
import { BimambaError } from 'bimamba';

/** A storage value holds at most 128 KiB: a snapshot is stored in chunks of this size. */
const CHUNK_BYTES = 128 * 1024;
/** Keys one storage get() or put() takes at most. */
const KEYS_PER_CALL = 128;

/** A session's lifetime after its last write, unless the store says otherwise. */
const DEFAULT_TTL_SECONDS = 86_400;

const chunkKeys = (count) => Array.from({ length: count }, (_, i) => `chunk:${i}`);
const expired = (meta) => Date.now() >= meta.expires;

export class SessionObject {
  constructor(state) {
    this.storage = state.storage;
  }

  // GET: the snapshot (404: none); PUT: replace it; DELETE: forget it. The object serves one request
  // at a time, so a check and the write after it are never interleaved with another request's.
  async fetch(request) {
    let meta = (await this.storage.get('meta')) ?? null; // { tag, chunks, bytes, expires }
    if (meta && expired(meta)) {
      await this.forget(); // its alarm has not run yet
      meta = null;
    }
    if (request.method === 'GET') {
      if (!meta) return new Response(null, { status: 404 });
      const snapshot = new Uint8Array(meta.bytes);
      const keys = chunkKeys(meta.chunks);
      for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
        const values = await this.storage.get(keys.slice(i, i + KEYS_PER_CALL));
        for (const [key, chunk] of values) snapshot.set(chunk, Number(key.slice('chunk:'.length)) * CHUNK_BYTES);
      }
      return new Response(snapshot, { headers: { etag: meta.tag } });
    }
    const ifMatch = request.headers.get('if-match');
    if ((ifMatch !== null && ifMatch !== meta?.tag) || (request.headers.get('if-none-match') === '*' && meta)) {
      return new Response(null, { status: 412 });
    }
    if (request.method === 'DELETE') {
      await this.forget();
      return new Response(null, { status: 204 });
    }
    if (request.method !== 'PUT') return new Response(null, { status: 405 });
    const ttl = Number(request.headers.get('bimamba-ttl-seconds') ?? DEFAULT_TTL_SECONDS);
    if (!(Number.isSafeInteger(ttl) && ttl > 0)) return new Response(null, { status: 400 });
    const expires = Date.now() + ttl * 1000;
    const bytes = new Uint8Array(await request.arrayBuffer());
    const chunks = Math.ceil(bytes.length / CHUNK_BYTES);
    const tag = crypto.randomUUID();
    // every write issued without an await in between: the storage commits them together, all or nothing
    const writes = [];
    for (let i = 0; i < chunks; i += KEYS_PER_CALL) {
      const entries = {};
      for (let c = i; c < Math.min(chunks, i + KEYS_PER_CALL); c++) entries[`chunk:${c}`] = bytes.slice(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES);
      writes.push(this.storage.put(entries));
    }
    const stale = chunkKeys(meta?.chunks ?? 0).slice(chunks);
    for (let i = 0; i < stale.length; i += KEYS_PER_CALL) writes.push(this.storage.delete(stale.slice(i, i + KEYS_PER_CALL)));
    writes.push(this.storage.put('meta', { tag, chunks, bytes: bytes.length, expires }));
    writes.push(this.storage.setAlarm(expires));
    await Promise.all(writes);
    return new Response(null, { status: 204, headers: { etag: tag } });
  }

  // The alarm of the last write: the session's time is up unless a later write moved it.
  async alarm() {
    const meta = (await this.storage.get('meta')) ?? null;
    if (!meta || expired(meta)) await this.forget();
    else await this.storage.setAlarm(meta.expires);
  }

  async forget() {
    await this.storage.deleteAlarm();
    await this.storage.deleteAll();
  }
}

/**
 * The server's session store over a SessionObject namespace binding. `ttlSeconds`: how long a session
 * is kept after its last write (default one day).
 */
export class DurableObjectStore {
  constructor(namespace, { ttlSeconds = DEFAULT_TTL_SECONDS } = {}) {
    if (!(Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ttlSeconds: ${ttlSeconds} (a positive integer)`);
    this.namespace = namespace;
    this.ttlSeconds = ttlSeconds;
    this.tags = new WeakMap(); // each snapshot get() returned -> the tag it was stored with
  }

  object(key) {
    return this.namespace.get(this.namespace.idFromName(key));
  }

  async call(key, init) {
    const response = await this.object(key).fetch('https://session/', init);
    if (response.status === 412) {
      throw new BimambaError('CONFLICT', `session ${JSON.stringify(key)} was written by another request since it was read; this continuation was not saved`);
    }
    if (!response.ok && response.status !== 404) throw new Error(`the session object answered ${response.status}`);
    return response;
  }

  async get(key) {
    const response = await this.call(key, { method: 'GET' });
    if (response.status === 404) return null;
    const snapshot = new Uint8Array(await response.arrayBuffer());
    this.tags.set(snapshot, response.headers.get('etag'));
    return snapshot;
  }

  async set(key, bytes, replacing) {
    const headers = { 'bimamba-ttl-seconds': String(this.ttlSeconds) };
    if (replacing === null) headers['if-none-match'] = '*';
    else if (replacing !== undefined) headers['if-match'] = this.tags.get(replacing) ?? '';
    await this.call(key, { method: 'PUT', body: bytes, headers });
  }

  async delete(key) {
    await this.call(key, { method: 'DELETE' });
  }
}
