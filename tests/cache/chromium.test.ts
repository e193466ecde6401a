// The model cache in Chromium (Debian's chromium, driven by playwright-core): see browser-scenario.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { chromiumBinary, need, shouldRun } from '../runtimes/hosts.js';
import { tinyModel } from '../runtimes/model.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { cacheScenario } from './browser-scenario.js';
import { readBytes, startModelServer } from './server.js';
import { ROOT } from '../runtimes/model.js';

const CHROMIUM = chromiumBinary();
const HOW = 'apt-get install chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.runIf(shouldRun('Chromium', CHROMIUM, HOW))('the model cache in Chromium', () => {
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'bimamba-cache-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: need('Chromium', CHROMIUM, HOW), headless: true, args: FLAGS });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('second load without a request, offline, a flipped byte refetched, an interrupted download resumed', async () => {
    const path = await tinyModel();
    const model = await loadModel(path, { wasm: WASM });
    const expected: number[] = [];
    for await (const t of model.generate('The history of', { maxTokens: 8, temperature: 0 })) expected.push(t.token);
    model.dispose();
    const other = readBytes(await convertFixture('mamba2-tiny-hf'));
    await cacheScenario('Chromium', { open: async (url) => void (await page.goto(url)), evaluate: (script) => page.evaluate(script) }, readBytes(path), expected, other);
    expect(errors).toEqual([]);
  });

  it('the SharedWorker example: two pages, one model load, each its own token stream; without SharedWorker a page loads its own from the cache', async () => {
    const path = await tinyModel();
    const greedy = async (prompt: string) => {
      const m = await loadModel(path, { wasm: WASM });
      const out: number[] = [];
      for await (const t of m.generate(prompt, { maxTokens: 12, temperature: 0 })) out.push(t.token);
      m.dispose();
      return out;
    };
    const prompts = ['The history of', 'Once upon a time'];
    const expected = await Promise.all(prompts.map(greedy));
    expect(expected[0]).not.toEqual(expected[1]);
    const server = await startModelServer(ROOT);
    server.serveFile('/models/tiny.bimamba', readBytes(path));
    try {
      const at = (prompt: string) => `${server.base}/examples/shared-worker/?${new URLSearchParams({ model: '/models/tiny.bimamba', prompt, n: '12' })}`;
      const pages = await Promise.all(prompts.map(() => context.newPage()));
      await Promise.all(pages.map((p, i) => p.goto(at(prompts[i]))));
      const results = await Promise.all(pages.map(async (p) => {
        await p.waitForSelector('#output[data-done]', { timeout: 60_000 });
        return p.evaluate(() => ({ tokens: JSON.parse(document.getElementById("output")!.dataset.tokens!), ...document.body.dataset }) as { tokens: number[]; shared?: string; loads?: string; worker?: string });
      }));
      expect(results.map((r) => r.tokens)).toEqual(expected); // each page its own stream
      expect(results.map((r) => r.shared)).toEqual(['true', 'true']);
      expect(results[0].worker).toMatch(/^[0-9a-z]+$/);
      expect(results[1].worker).toBe(results[0].worker); // one worker for both pages
      expect(results.map((r) => r.loads)).toEqual(['1', '1']); // one load, shared
      expect(server.count('/models/tiny.bimamba')).toBe(1);

      // where SharedWorker is missing, the page loads the model itself: from the cache the worker filled
      const alone = await context.newPage();
      await alone.addInitScript(() => {
        delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
      });
      await alone.goto(at(prompts[1]));
      await alone.waitForSelector('#output[data-done]', { timeout: 60_000 });
      const solo = await alone.evaluate(() => ({ tokens: JSON.parse(document.getElementById('output')!.dataset.tokens!), ...document.body.dataset }));
      expect(solo).toMatchObject({ shared: 'false', source: 'cache', tokens: expected[1] });
      expect(server.count('/models/tiny.bimamba')).toBe(1);
      for (const p of [...pages, alone]) await p.close();
    } finally {
      await server.close();
    }
  });

  it('the demo page says "loaded from cache" on a second visit, and fetches nothing', async () => {
    const path = await tinyModel();
    const server = await startModelServer(ROOT);
    server.serveFile('/models/demo.bimamba', readBytes(path));
    try {
      const status: string[] = [];
      for (let visit = 0; visit < 2; visit++) {
        const p = await context.newPage();
        await p.goto(`${server.base}/examples/web/?model=${encodeURIComponent('/models/demo.bimamba')}`);
        await p.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
        status.push((await p.textContent('#model-status'))!);
        await p.close();
      }
      expect(status[0]).not.toMatch(/from cache/);
      expect(status[1]).toMatch(/demo\.bimamba: .*; loaded from cache in \d+ ms/);
      expect(server.count('/models/demo.bimamba')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a quota too small for the model: a QUOTA warning, the model loads from the network, nothing is stored', async () => {
    const path = await tinyModel();
    const server = await startModelServer(ROOT);
    server.serveFile('/models/tiny.bimamba', readBytes(path));
    const p = await context.newPage();
    try {
      await p.goto(`${server.base}/tests/cache/page.html`);
      const cdp = await context.newCDPSession(p);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.base, quotaSize: 100_000 }); // bytes: less than the model
      const script = `(async () => {
        const { loadModel, listCachedModels } = await import('/dist/index.js');
        const warnings = [];
        const model = await loadModel(new URL('/models/tiny.bimamba', location.href), { cache: true, threads: 1, onWarning: (w) => warnings.push({ code: w.code, name: w.name, message: w.message }) });
        const vocab = model.vocabSize;
        model.dispose();
        return { vocab, warnings, listed: await listCachedModels() };
      })()`;
      for (let i = 1; i <= 2; i++) {
        const got = (await p.evaluate(script)) as { vocab: number; warnings: { code: string; name: string; message: string }[]; listed: unknown[] };
        expect(got.vocab).toBe(1000);
        expect(got.warnings).toHaveLength(1);
        expect(got.warnings[0]).toMatchObject({ code: 'QUOTA', name: 'BimambaError' });
        expect(got.warnings[0].message).toMatch(/no room to cache .*tiny\.bimamba/);
        expect(got.listed).toEqual([]);
        expect(server.count('/models/tiny.bimamba')).toBe(i);
      }
    } finally {
      await p.close();
      await server.close();
    }
  });

  it('two pages loading one URL at the same moment download it once (a Web Lock per URL)', async () => {
    const path = await tinyModel();
    const server = await startModelServer(ROOT);
    server.serveFile('/models/tiny.bimamba', readBytes(path));
    server.misbehave = { throttleMs: 15 }; // a slow network: the two loads overlap
    const pages = [await context.newPage(), await context.newPage()];
    try {
      for (const p of pages) await p.goto(`${server.base}/tests/cache/page.html`);
      const script = `(async () => {
        const { loadModel } = await import('/dist/index.js');
        let source = null;
        const model = await loadModel(new URL('/models/tiny.bimamba', location.href), { cache: true, threads: 1, onProgress: (p) => (source = p.source) });
        model.dispose();
        return source;
      })()`;
      const sources = await Promise.all(pages.map((p) => p.evaluate(script)));
      expect(sources.sort()).toEqual(['cache', 'network']);
      expect(server.count('/models/tiny.bimamba')).toBe(1);
    } finally {
      for (const p of pages) await p.close();
      await server.close();
    }
  });
});
