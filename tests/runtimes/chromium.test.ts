// Headless Chromium (Debian's chromium, driven by playwright-core) runs the built package in a page:
// the browser example and a direct import must give Node's greedy tokens; then the demo page
// (examples/web) is used as a person would: type a prompt, generate, watch the text stream in.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { GENERATION_DEFAULTS } from '../../src/generate/defaults.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_STOP_SCRIPT, expectDemoStopped, expectStopped, pageStopScript, type DemoStopResult, type StopResult } from '../browsers/stop.js';
import { chromiumBinary, need, shouldRun } from './hosts.js';
import { convertFixture } from '../util/fixtures.js';
import { MAX_TOKENS, nodeGreedy, OUT, PROMPT, ROOT, tinyModel } from './model.js';
// @ts-expect-error: a plain ES module without types
import { serve } from '../../examples/web/serve.mjs';

const CHROMIUM = chromiumBinary();
const HOW = 'apt-get install chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = join(ROOT, 'tests', 'out', 'demo.png');

describe.runIf(shouldRun('Chromium', CHROMIUM, HOW))('Chromium', () => {
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let profile: string;
  let model: string;
  let modelPath: string; // the model's URL path on the test server
  let expected: { tokens: number[]; text: string };

  beforeAll(async () => {
    model = await tinyModel();
    modelPath = '/' + relative(ROOT, model).split('\\').join('/');
    expected = await nodeGreedy(model);
    server = await serve(ROOT, 0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    profile = mkdtempSync(join(tmpdir(), 'bimamba-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: need('Chromium', CHROMIUM, HOW), headless: true, args: FLAGS });
  });

  afterAll(async () => {
    await context?.close();
    await new Promise((r) => server?.close(r));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** A new tab at `path`; `errors` collects what the page reports as errors. */
  async function open(path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(base + path);
    return { page, errors };
  }

  it('runs the browser example: the same text as Node, and the same token ids from the built package', async () => {
    const query = new URLSearchParams({ model: modelPath, prompt: PROMPT, n: String(MAX_TOKENS) });
    const { page, errors } = await open(`/examples/browser/?${query}`);
    await page.waitForSelector('#output[data-done]', { timeout: 30_000 });
    expect(await page.textContent('#output')).toBe(expected.text);

    // the ids, from a direct import of the bundle (a string: the test runner must not rewrite import()),
    // and of the browser build (the `browser` condition: no node: module in its graph)
    for (const bundle of ['/dist/index.js', '/dist/browser.js']) {
      const tokens = await page.evaluate(`(async () => {
        const { loadModel } = await import('${bundle}');
        const model = await loadModel(new URL(${JSON.stringify(modelPath)}, location.href));
        const out = [];
        for await (const { token } of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: ${MAX_TOKENS}, temperature: 0 })) out.push(token);
        model.dispose();
        return out;
      })()`);
      expect(tokens, bundle).toEqual(expected.tokens);
    }
    await page.close();
    expect(errors).toEqual([]);
  });

  it('stops a generation within 100 ms of an abort by a timer, AbortSignal.timeout or a worker\'s message; timers run meanwhile', async () => {
    const { page, errors } = await open(`/examples/browser/?${new URLSearchParams({ model: modelPath, n: '0' })}`);
    expectStopped('Chromium', (await page.evaluate(pageStopScript(modelPath))) as StopResult[]);
    await page.close();
    expect(errors).toEqual([]);
  });

  it('the browser example: the built-in model without ?model=, and an error on the page for a wrong one', async () => {
    const builtIn = await open('/examples/browser/?n=4');
    await builtIn.page.waitForSelector('#output[data-done], #output[data-error]', { timeout: 30_000 });
    expect(await builtIn.page.getAttribute('#output', 'data-error')).toBeNull();
    expect((await builtIn.page.textContent('#output'))!.length).toBeGreaterThan(0);
    await builtIn.page.close();
    expect(builtIn.errors).toEqual([]);
    const wrong = await open('/examples/browser/?model=/no-such.bimamba');
    await wrong.page.waitForSelector('#output[data-error]', { timeout: 30_000 });
    expect(await wrong.page.textContent('#output')).toMatch(/^error: .*no-such\.bimamba/);
    await wrong.page.close();
  });

  it('demo page: a model file without a tokenizer says so, and what to do', async () => {
    const bare = join(OUT, 'no-tokenizer.bimamba');
    copyFileSync(await convertFixture('bimamba-tiny'), bare);
    const { page, errors } = await open(`/examples/web/?model=${encodeURIComponent('/' + relative(ROOT, bare).split('\\').join('/'))}`);
    await page.waitForSelector('body[data-state=no-tokenizer]', { timeout: 30_000 });
    expect(await page.textContent('#model-status')).toMatch(/no tokenizer.*--tokenizer tokenizer\.json.*--ids/);
    expect(await page.isDisabled('#generate')).toBe(true);
    await page.close();
    expect(errors).toEqual([]);
  });

  it('demo page: Stop ends the generation within 100 ms of the click', async () => {
    const { page, errors } = await open('/examples/web/'); // the built-in model: long enough a generation
    expectDemoStopped('Chromium', (await page.evaluate(DEMO_STOP_SCRIPT)) as DemoStopResult);
    await page.close();
    expect(errors).toEqual([]);
  });

  it('demo page: a dropped-in model file gives Node\'s greedy text', async () => {
    const { page, errors } = await open(`/examples/web/?model=${encodeURIComponent(modelPath)}`);
    await page.waitForSelector('body[data-state=ready]', { timeout: 30_000 });
    await page.setInputFiles('#model-file', model); // the same path as a drop: a File, read as a stream
    await page.waitForSelector('#model-status:has-text("tiny.bimamba")');
    await page.waitForSelector('body[data-state=ready]');
    // the load's progress bar went to the end (and hid), and the controls show the library's defaults
    expect(await page.evaluate(() => [(document.getElementById('load-progress') as HTMLProgressElement).value, (document.getElementById('load-progress') as HTMLProgressElement).hidden])).toEqual([1, true]);
    expect(await page.inputValue('#top-k')).toBe(String(GENERATION_DEFAULTS.topK));
    expect(await page.inputValue('#repetition-penalty')).toBe(String(GENERATION_DEFAULTS.repetitionPenalty));
    await page.fill('#prompt', PROMPT);
    await page.fill('#max-tokens', String(MAX_TOKENS));
    await page.fill('#temperature', '0');
    await page.click('#generate');
    await page.waitForSelector('body[data-state=ready]', { timeout: 30_000 });
    expect(await page.textContent('#output-text')).toBe(expected.text);
    expect(await page.textContent('#token-count')).toBe(String(MAX_TOKENS));
    await page.close();
    expect(errors).toEqual([]);
  });

  it('demo page: type a prompt, watch the text stream in, take a screenshot', async () => {
    const { page, errors } = await open('/examples/web/'); // the built-in model, or the fixture where there is none yet
    await page.setViewportSize({ width: 1000, height: 760 });
    await page.waitForSelector('body[data-state=ready], body[data-state=error]', { timeout: 60_000 });
    if ((await page.getAttribute('body', 'data-state')) === 'error') {
      // no built-in model in this checkout: use the fixture
      await page.goto(`${base}/examples/web/?model=${encodeURIComponent(modelPath)}`);
      await page.waitForSelector('body[data-state=ready]', { timeout: 30_000 });
      errors.length = 0;
    }
    await page.fill('#prompt', 'Once upon a time');
    await page.fill('#max-tokens', '48');
    await page.fill('#seed', '7');
    await page.press('#prompt', 'Control+Enter');
    await page.waitForSelector('body[data-state=generating]');
    // text appears while generation is still going on: streamed, and the page answers meanwhile
    await page.waitForFunction(() => document.getElementById('output-text')!.textContent!.length > 0, null, { timeout: 30_000 });
    await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
    mkdirSync(join(ROOT, 'tests', 'out'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const text = await page.textContent('#output-text');
    expect(text!.trim().length).toBeGreaterThan(0);
    expect(Number(await page.textContent('#token-count'))).toBeGreaterThan(0);
    expect(Number(await page.textContent('#tokens-per-second'))).toBeGreaterThan(0);
    expect(await page.textContent('#memory')).toMatch(/MB WASM/);
    await page.close();
    expect(errors).toEqual([]);
  });
});
