// loadModel(url, { cache }) in Node: the cache on disk ($BIMAMBA_CACHE), and a CacheObject of one's own.
// A real HTTP server on 127.0.0.1 (server.ts) counts the requests and misbehaves where asked.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { diskStore } from '../../src/cache/disk.js';
import { responseStore } from '../../src/cache/browser.js';
import { deliver } from '../../src/cache/delivery.js';
import { deleteCachedModel, listCachedModels } from '../../src/cache/index.js';
import { verifyBimambaFile } from '../../src/format/bimamba.js';
import { urlKey } from '../../src/cache/store.js';
import type { CacheObject } from '../../src/cache/types.js';
import type { BimambaError } from '../../src/errors.js';
import { loadModel } from '../../src/model/model.js';
import { tinyModel } from '../runtimes/model.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { readBytes, startModelServer, type ModelServer } from './server.js';

const PATH = '/models/tiny.bimamba';
let server: ModelServer;
let fileBytes: Uint8Array;
let other: Uint8Array; // another model's file
let expected: number[];
let dir: string;
let warnings: BimambaError[];

const greedy = async (model: Awaited<ReturnType<typeof loadModel>>) => {
  const out: number[] = [];
  for await (const t of model.generate('The history of', { maxTokens: 8, temperature: 0 })) out.push(t.token);
  model.dispose();
  return out;
};
const load = (cache: true | 'revalidate' | CacheObject = true, onProgress?: (p: { source?: string }) => void) =>
  loadModel(server.base + PATH, { wasm: WASM, cache, onWarning: (w) => warnings.push(w), onProgress });
const cachedFiles = () => readdirSync(dir).filter((n) => n.endsWith('.bimamba'));

beforeAll(async () => {
  const path = await tinyModel();
  fileBytes = readBytes(path);
  other = readBytes(await convertFixture('mamba2-tiny-hf'));
  expected = await greedy(await loadModel(path, { wasm: WASM }));
  server = await startModelServer();
});
afterAll(() => server?.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bimamba-cache-'));
  process.env.BIMAMBA_CACHE = dir;
  server.serveFile(PATH, fileBytes, '"tiny-1"');
  server.seen.length = 0;
  server.misbehave = {};
  warnings = [];
});
afterEach(() => {
  delete process.env.BIMAMBA_CACHE;
  rmSync(dir, { recursive: true, force: true });
});

describe('the disk cache', () => {
  it('the second load makes no request, reads the cache (onProgress says so), and gives the same tokens', async () => {
    const sources = new Set<string | undefined>();
    expect(await greedy(await load(true, (p) => sources.add(p.source)))).toEqual(expected);
    expect([...sources]).toEqual(['network']);
    expect(server.count(PATH)).toBe(1);
    expect(cachedFiles()).toHaveLength(1);
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
    sources.clear();
    expect(await greedy(await load(true, (p) => sources.add(p.source)))).toEqual(expected);
    expect([...sources]).toEqual(['cache']);
    expect(server.count(PATH)).toBe(1);
    expect(warnings).toEqual([]);
    const listed = await listCachedModels();
    expect(listed).toMatchObject([{ url: server.base + PATH, bytes: fileBytes.length, totalBytes: fileBytes.length, complete: true, etag: '"tiny-1"' }]);
    expect(readdirSync(dir).filter((n) => /\.(lock|tmp|partial)/.test(n))).toEqual([]);
  });

  it('loads from the cache with the server gone', async () => {
    await greedy(await load());
    const stopped = await startModelServer();
    const url = stopped.base + PATH;
    stopped.serveFile(PATH, fileBytes);
    await greedy(await loadModel(url, { wasm: WASM, cache: true }));
    await stopped.close();
    expect(await greedy(await loadModel(url, { wasm: WASM, cache: true }))).toEqual(expected);
    expect(await greedy(await loadModel(url, { wasm: WASM, cache: 'revalidate', onWarning: (w) => warnings.push(w) }))).toEqual(expected);
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/cannot fetch .*loading the cached copy/);
  });

  it('a flipped byte, a truncated file or another model\'s file in the cache: dropped with a warning, fetched again', async () => {
    await greedy(await load());
    const file = join(dir, cachedFiles()[0]);
    const damages: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
      ['flipped', (b) => { const c = b.slice(); c[c.length - 100] ^= 1; return c; }, /does not match its checksum/],
      ['truncated', (b) => b.subarray(0, b.length - 1000), /truncated|size/],
      ['swapped', () => other, /another model's file/],
    ];
    for (const [what, damage, message] of damages) {
      writeFileSync(file, damage(fileBytes));
      warnings = [];
      const before = server.count(PATH);
      expect(await greedy(await load()), what).toEqual(expected);
      expect(server.count(PATH), what).toBe(before + 1);
      expect(warnings.map((w) => w.message).join('\n'), what).toMatch(message);
      expect(new Uint8Array(readFileSync(file)), what).toEqual(fileBytes);
    }
  });

  it("'revalidate' asks with If-None-Match: 304 reads the cache; a new ETag brings the new file", async () => {
    await greedy(await load());
    expect(await greedy(await load('revalidate'))).toEqual(expected);
    expect(server.seen.at(-1)).toMatchObject({ status: 304 });
    expect(server.seen.at(-1)!.headers['if-none-match']).toBe('"tiny-1"');
    server.serveFile(PATH, other, '"other-1"');
    const m = await load('revalidate');
    expect(m.config.binarized).toBe(false); // the new file (the full-precision mamba2 fixture)
    m.dispose();
    expect((await listCachedModels())[0]).toMatchObject({ etag: '"other-1"', bytes: other.length });
    await load(true).then((x) => x.dispose());
    expect(server.count(PATH)).toBe(3);
  });

  it('an interrupted download resumes with Range + If-Range and equals an uninterrupted one', async () => {
    server.misbehave.cutAfter = Math.floor(fileBytes.length / 2);
    await expect(load()).rejects.toThrow();
    const partial = await listCachedModels();
    expect(partial).toHaveLength(1);
    expect(partial[0].complete).toBe(false);
    expect(partial[0].bytes).toBeGreaterThan(0);
    expect(await greedy(await load())).toEqual(expected);
    const last = server.seen.at(-1)!;
    expect(last.status).toBe(206);
    expect(last.headers.range).toBe(`bytes=${partial[0].bytes}-`);
    expect(last.headers['if-range']).toBe('"tiny-1"');
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
    expect(readdirSync(dir).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('a new ETag between the two parts restarts the download (If-Range), and so does a server that gives 206 anyway', async () => {
    for (const ignoreIfRange of [false, true]) {
      server.serveFile(PATH, fileBytes, '"tiny-1"');
      server.misbehave = { cutAfter: Math.floor(fileBytes.length / 2) };
      await expect(load()).rejects.toThrow();
      server.serveFile(PATH, other, '"other-2"'); // the file changed on the server
      server.misbehave = { ignoreIfRange };
      warnings = [];
      const m = await load();
      expect(m.config.binarized).toBe(false);
      m.dispose();
      expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(other);
      if (ignoreIfRange) expect(warnings.map((w) => w.message).join('\n')).toMatch(/cannot continue the stored part|another file/);
      await deleteCachedModel(server.base + PATH);
    }
  });

  it('a damaged partial download (its first part is another file): downloaded whole', async () => {
    server.misbehave = { cutAfter: Math.floor(fileBytes.length / 2) };
    await expect(load()).rejects.toThrow();
    const partial = join(dir, readdirSync(dir).find((n) => n.endsWith('.partial'))!);
    const part = readFileSync(partial);
    part[20] ^= 0x55; // inside the header's JSON
    writeFileSync(partial, part);
    expect(await greedy(await load())).toEqual(expected);
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/does not continue into this file/);
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
  });

  it('a server that stalls mid-body: the download stops with a clear error, keeps what arrived, and resumes', async () => {
    server.misbehave = { stallAfter: Math.floor(fileBytes.length / 2) };
    const url = new URL(server.base + PATH);
    const options = { store: diskStore(dir), revalidate: false, warn: (w: BimambaError) => warnings.push(w), stallMs: 500 };
    const read = () => deliver(url, options, (src, check) => verifyBimambaFile(src, { onHeader: check }));
    const started = Date.now();
    await expect(read()).rejects.toThrow(/no data arrived for 0.5 s/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await listCachedModels())[0]).toMatchObject({ complete: false });
    expect((await read()).dataBytes).toBeGreaterThan(0);
    expect(server.seen.at(-1)!.status).toBe(206);
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
  });

  it('a server without ranges: the download restarts and is whole', async () => {
    server.misbehave = { cutAfter: Math.floor(fileBytes.length / 2) };
    await expect(load()).rejects.toThrow();
    server.misbehave = { noRanges: true };
    expect(await greedy(await load())).toEqual(expected);
    expect(server.seen.at(-1)!.status).toBe(200);
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
  });

  it('a lying Content-Range: refused as a resume, downloaded whole', async () => {
    server.misbehave = { cutAfter: Math.floor(fileBytes.length / 2) };
    await expect(load()).rejects.toThrow();
    server.misbehave = { contentRange: (start, size) => `bytes ${start + 10}-${size - 1}/${size}` };
    expect(await greedy(await load())).toEqual(expected);
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/Content-Range says bytes/);
    expect(new Uint8Array(readFileSync(join(dir, cachedFiles()[0])))).toEqual(fileBytes);
  });

  it('a lying Content-Length: a clear error, nothing cached', async () => {
    for (const length of [fileBytes.length - 100, fileBytes.length + 100]) {
      server.misbehave = { contentLength: length };
      const e = await load().then(() => null, (x: BimambaError) => x);
      expect(e?.code, String(length)).toMatch(/BAD_FORMAT|BAD_ARGUMENT/);
      expect(e?.message).toMatch(/server says the file has|truncated|reading .* failed|fetch/);
      expect(cachedFiles()).toEqual([]);
    }
    server.misbehave = {};
    expect(await greedy(await load())).toEqual(expected);
  });

  it('links planted in the cache directory are never written through', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'bimamba-outside-'));
    try {
      const victim = join(outside, 'victim.txt');
      writeFileSync(victim, 'precious');
      const key = urlKey(server.base + PATH);
      const info = JSON.stringify({ url: server.base + PATH, totalBytes: fileBytes.length, etag: '"tiny-1"', lastModified: null, storedAt: 0, fingerprint: 'x', name: null });
      // a "partial download" that is a link to a file outside: not resumed, not written; nor a temporary file's name
      symlinkSync(victim, join(dir, `${key}.partial`));
      symlinkSync(victim, join(dir, `${key}.partial.json.${process.pid}.tmp`));
      writeFileSync(join(dir, `${key}.partial.json`), info);
      expect(await greedy(await load())).toEqual(expected);
      expect(readFileSync(victim, 'utf8')).toBe('precious');
      expect(server.seen.at(-1)!.headers.range).toBeUndefined();
      // a "cached file" that is a link: not read, replaced by the real file
      rmSync(join(dir, `${key}.bimamba`));
      symlinkSync(victim, join(dir, `${key}.bimamba`));
      writeFileSync(join(dir, `${key}.json`), info);
      expect(await greedy(await load())).toEqual(expected);
      expect(readFileSync(victim, 'utf8')).toBe('precious');
      expect(lstatSync(join(dir, `${key}.bimamba`)).isFile()).toBe(true);
      expect(new Uint8Array(readFileSync(join(dir, `${key}.bimamba`)))).toEqual(fileBytes);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('deleteCachedModel removes the entry; a path or bytes are never cached', async () => {
    await greedy(await load());
    expect(await deleteCachedModel(server.base + PATH)).toBe(true);
    expect(await deleteCachedModel(server.base + PATH)).toBe(false);
    expect(await listCachedModels()).toEqual([]);
    (await loadModel(fileBytes, { wasm: WASM, cache: true })).dispose();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a cache option that is none', async () => {
    await expect(loadModel(server.base + PATH, { wasm: WASM, cache: 'yes' as never })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('a CacheObject of ones own', () => {
  const mapCache = (failPut?: () => Error) => {
    const entries = new Map<string, { bytes: Uint8Array; headers: [string, string][] }>();
    const cache: CacheObject = {
      async get(key) {
        const e = entries.get(key);
        return e && new Response(e.bytes as Uint8Array<ArrayBuffer>, { headers: e.headers });
      },
      async put(key, response) {
        if (failPut) {
          await response.body?.cancel();
          throw failPut();
        }
        entries.set(key, { bytes: new Uint8Array(await response.arrayBuffer()), headers: [...response.headers] });
      },
      delete: async (key) => entries.delete(key),
      keys: async () => [...entries.keys()],
    };
    return { cache, entries };
  };

  it('stores there, and the second load makes no request', async () => {
    const { cache, entries } = mapCache();
    expect(await greedy(await load(cache))).toEqual(expected);
    expect(entries.get(server.base + PATH)?.bytes).toEqual(fileBytes);
    expect(await greedy(await load(cache))).toEqual(expected);
    expect(server.count(PATH)).toBe(1);
    expect(await listCachedModels({ cache })).toMatchObject([{ url: server.base + PATH, bytes: fileBytes.length }]);
    expect(readdirSync(dir)).toEqual([]); // nothing on disk
  });

  it('a cache whose put() never reads the body is given up with a warning: the load neither hangs nor buffers the file', async () => {
    let puts = 0;
    const stuck: CacheObject = {
      get: async () => undefined,
      put: () => {
        puts++;
        return new Promise<void>(() => {}); // never reads, never settles
      },
      delete: async () => true,
      keys: async () => [],
    };
    const url = new URL(server.base + PATH);
    const options = { store: responseStore(stuck, 'custom', 300), revalidate: false, warn: (w: BimambaError) => warnings.push(w) };
    const header = await deliver(url, options, (src, check) => verifyBimambaFile(src, { onHeader: check }));
    expect(header.dataBytes).toBeGreaterThan(0);
    expect(puts).toBe(1);
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/the cache (took no bytes|did not finish storing) within 0.3 s|the cache took no bytes for 0.3 s/);
  });

  it('a quota error is a QUOTA warning, and the model loads from the network', async () => {
    const { cache } = mapCache(() => new DOMException('the quota is exceeded', 'QuotaExceededError'));
    expect(await greedy(await load(cache))).toEqual(expected);
    expect(warnings.map((w) => w.code)).toContain('QUOTA');
    expect(await greedy(await load(cache))).toEqual(expected);
    expect(server.count(PATH)).toBe(2);
  });
});
