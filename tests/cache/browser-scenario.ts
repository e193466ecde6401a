// The browser half of the cache tests, the same in Chromium, Firefox and WebKit: a page loads the tiny
// model with `cache: true` through a real server that counts requests, and the scenario checks what the
// issue asks: the second load makes no request, a load with the server stopped works, a flipped byte is
// refetched and gives the right tokens (and so is another model's file put in its place), an interrupted download resumes with a Range request (where the
// browser's store keeps partial downloads: OPFS) and equals an uninterrupted one, 'revalidate' gets a 304.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { ROOT } from '../runtimes/model.js';
import { startModelServer, type ModelServer } from './server.js';

export const MODEL_PATH = '/models/tiny.bimamba';
const PROMPT = 'The history of';

/** What the scenario needs of a browser: go to a URL, run an async script (a string) and get its JSON result. */
export interface PageDriver {
  open(url: string): Promise<void>;
  evaluate(script: string): Promise<unknown>;
  /** The browser's automation session drops stored data when a document is left (WebKitGTK's). */
  storageEndsWithDocument?: boolean;
}

interface LoadResult {
  tokens?: number[];
  sources: string[];
  warnings: { code: string; message: string }[];
  error?: string;
}

/** A page script: load the model through the cache, greedy tokens, where the bytes came from, the warnings. */
function loadScript(url: string, cache: true | 'revalidate' = true): string {
  return `(async () => {
    const { loadModel } = await import('/dist/index.js');
    const sources = new Set(); const warnings = [];
    try {
      const model = await loadModel(${JSON.stringify(url)}, { cache: ${JSON.stringify(cache)}, threads: 1, onProgress: (p) => sources.add(p.source), onWarning: (w) => warnings.push({ code: w.code, message: w.message }) });
      const tokens = [];
      for await (const { token } of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: 8, temperature: 0 })) tokens.push(token);
      model.dispose();
      return { tokens, sources: [...sources], warnings };
    } catch (e) {
      return { error: e.code + ': ' + e.message, sources: [...sources], warnings };
    }
  })()`;
}

/** The stored copy of the model, whichever store the browser has: OPFS, else the Cache API. */
const STORED = `async function stored() {
  if (typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('bimamba', { create: true });
    for await (const name of dir.keys()) if (name.endsWith('.bimamba')) {
      const handle = await dir.getFileHandle(name);
      return { kind: 'opfs', read: async () => new Uint8Array(await (await handle.getFile()).arrayBuffer()),
        write: async (bytes) => { const w = await handle.createWritable(); await w.write(bytes); await w.close(); } };
    }
    return { kind: 'opfs' };
  }
  const cache = await caches.open('bimamba-models');
  const key = (await cache.keys())[0];
  if (!key) return { kind: 'cache-api' };
  const r = await cache.match(key);
  return { kind: 'cache-api', read: async () => new Uint8Array(await (await cache.match(key)).arrayBuffer()),
    write: async (bytes) => cache.put(key, new Response(bytes, { headers: r.headers })) };
}`;

const hashScript = `(async () => { ${STORED}; const s = await stored(); if (!s.read) return { kind: s.kind, hash: null };
  const bytes = await s.read(); const digest = await crypto.subtle.digest('SHA-256', bytes);
  return { kind: s.kind, hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''), bytes: bytes.length }; })()`;

const swapScript = (other: string) => `(async () => { ${STORED}; const s = await stored(); await s.write(new Uint8Array(await (await fetch(${JSON.stringify(other)})).arrayBuffer())); return s.kind; })()`;

const flipScript = `(async () => { ${STORED}; const s = await stored(); const bytes = await s.read(); bytes[bytes.length - 200] ^= 1; await s.write(bytes); return s.kind; })()`;

const listScript = `(async () => { const { listCachedModels } = await import('/dist/index.js'); return listCachedModels(); })()`;
const clearScript = (url: string) => `(async () => { const { deleteCachedModel } = await import('/dist/index.js'); return deleteCachedModel(${JSON.stringify(url)}); })()`;

/** `other`: another model's file (a valid .bimamba of its own), put in place of the stored copy. */
export async function cacheScenario(browser: string, driver: PageDriver, fileBytes: Uint8Array, expected: number[], other: Uint8Array): Promise<void> {
  let server: ModelServer = await startModelServer(ROOT);
  const port = Number(new URL(server.base).port);
  const url = server.base + MODEL_PATH;
  const page = `${server.base}/tests/cache/page.html`;
  const fileHash = createHash('sha256').update(fileBytes).digest('hex');
  server.serveFile(MODEL_PATH, fileBytes, '"tiny-1"');
  server.serveFile('/models/other.bimamba', other);
  const load = async (cache: true | 'revalidate' = true) => (await driver.evaluate(loadScript(url, cache))) as LoadResult;
  try {
    await driver.open(page);
    await driver.evaluate(clearScript(url));

    // 1. the first load fetches the file once and stores it
    const first = await load();
    expect(first.error, browser).toBeUndefined();
    expect(first.tokens).toEqual(expected);
    expect(first.sources).toEqual(['network']);
    expect(first.warnings).toEqual([]);
    expect(server.count(MODEL_PATH)).toBe(1);
    const stored = (await driver.evaluate(hashScript)) as { kind: string; hash: string };
    console.log(`${browser}: the model cache uses ${stored.kind}`);
    expect(stored.hash).toBe(fileHash);

    // 2. a second visit (a new document) loads it from the cache with no request. (WebKitGTK's automation
    // session loses the Cache Storage of a document it leaves: there the second load runs in the same one.)
    if (!driver.storageEndsWithDocument) await driver.open(page);
    else console.log(`${browser}: its automation session keeps no storage across documents; the second load runs in the same document`);
    const second = await load();
    expect(second.tokens).toEqual(expected);
    expect(second.warnings).toEqual([]);
    expect(second.sources).toEqual(['cache']);
    expect(server.count(MODEL_PATH)).toBe(1);
    const listed = (await driver.evaluate(listScript)) as { url: string; bytes: number; complete: boolean }[];
    expect(listed).toMatchObject([{ url, bytes: fileBytes.length, complete: true }]);

    // 3. with the server stopped (the page and its WASM already loaded), the cached model loads
    await server.close();
    const offline = await load();
    expect(offline.error).toBeUndefined();
    expect(offline.tokens).toEqual(expected);
    server = await startModelServer(ROOT, port);
    server.serveFile(MODEL_PATH, fileBytes, '"tiny-1"');
    server.serveFile('/models/other.bimamba', other);

    // 4. 'revalidate' asks with If-None-Match and gets a 304
    const fresh = await load('revalidate');
    expect(fresh.tokens).toEqual(expected);
    expect(server.seen.at(-1)).toMatchObject({ path: MODEL_PATH, status: 304 });
    expect(server.seen.at(-1)!.headers['if-none-match']).toBe('"tiny-1"');

    // 5. a flipped byte in the stored copy: detected by the CRCs, dropped, fetched again, the right tokens
    await driver.evaluate(flipScript);
    const flipped = await load();
    expect(flipped.tokens).toEqual(expected);
    expect(flipped.warnings.map((w) => w.message).join('\n')).toMatch(/does not match its checksum/);
    expect(server.count(MODEL_PATH)).toBe(2);
    expect(((await driver.evaluate(hashScript)) as { hash: string }).hash).toBe(fileHash);

    // 5b. another model's file in place of the stored copy (its own checksums hold): refused, fetched again
    await driver.evaluate(swapScript(`${server.base}/models/other.bimamba`));
    const swapped = await load();
    expect(swapped.tokens).toEqual(expected);
    expect(swapped.warnings.map((w) => w.message).join('\n')).toMatch(/another model's file/);
    expect(server.count(MODEL_PATH)).toBe(3);
    expect(((await driver.evaluate(hashScript)) as { hash: string }).hash).toBe(fileHash);

    // 6. a download cut in the middle resumes with a Range request and ends as the uninterrupted one
    await driver.evaluate(clearScript(url));
    server.misbehave.cutAfter = Math.floor(fileBytes.length / 2);
    const cut = await load();
    expect(cut.error).toBeDefined();
    const partial = (await driver.evaluate(listScript)) as { bytes: number; complete: boolean }[];
    const resumes = stored.kind === 'opfs';
    if (resumes) expect(partial).toMatchObject([{ complete: false }]);
    const resumed = await load();
    expect(resumed.error).toBeUndefined();
    expect(resumed.tokens).toEqual(expected);
    const last = server.seen.filter((s) => s.path === MODEL_PATH).at(-1)!;
    if (resumes) {
      expect(last.status).toBe(206);
      expect(last.headers.range).toBe(`bytes=${partial[0].bytes}-`);
      expect(last.headers['if-range']).toBe('"tiny-1"');
    }
    expect(((await driver.evaluate(hashScript)) as { hash: string }).hash).toBe(fileHash);
    if (!driver.storageEndsWithDocument) await driver.open(page);
    expect((await load()).sources).toEqual(['cache']);
  } finally {
    await server.close();
  }
}
