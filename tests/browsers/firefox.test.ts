// Firefox (Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi) runs the browser example:
// Node's greedy text, and the same token ids from a direct import, with the threads it could get (the
// page is served cross-origin isolated; where a host cannot, the single-threaded fallback runs).
import type { Server } from 'node:http';
import { relative } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, shouldRun } from '../runtimes/hosts.js';
import { MAX_TOKENS, nodeGreedy, PROMPT, ROOT, tinyModel } from '../runtimes/model.js';
import { FIREFOX, HOW_FIREFOX, inPage } from './browsers.js';
import { DEMO_STOP_SCRIPT, expectDemoStopped, expectStopped, pageStopScript, type DemoStopResult, type StopResult } from './stop.js';
// @ts-expect-error: a plain ES module without types
import { serve } from '../../examples/web/serve.mjs';

describe.runIf(shouldRun('Firefox', FIREFOX, HOW_FIREFOX))('Firefox', () => {
  let server: Server;
  let browser: Browser;
  let base: string;
  let modelPath: string;
  let expected: { tokens: number[]; text: string };

  beforeAll(async () => {
    const model = await tinyModel();
    modelPath = '/' + relative(ROOT, model).split('\\').join('/');
    expected = await nodeGreedy(model);
    server = await serve(ROOT, 0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: need('Firefox', FIREFOX, HOW_FIREFOX), headless: true, protocol: 'webDriverBiDi' });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it('runs the browser example with Node’s greedy text and token ids', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const query = new URLSearchParams({ model: modelPath, prompt: PROMPT, n: String(MAX_TOKENS) });
    await page.goto(`${base}/examples/browser/?${query}`);
    await page.waitForSelector('#output[data-done]', { timeout: 60_000 });
    expect(await page.$eval('#output', (e) => e.textContent)).toBe(expected.text);
    const got = (await page.evaluate(inPage(modelPath))) as { tokens: number[]; threads: number; isolated: boolean; agent: string };
    console.log(`Firefox: ${got.agent}; cross-origin isolated ${got.isolated}, ${got.threads} thread(s)`);
    expect(got.tokens).toEqual(expected.tokens);
    expect(got.threads >= 1).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stops a generation within 100 ms of an abort by a timer, AbortSignal.timeout or a worker’s message; timers run meanwhile', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/examples/browser/?${new URLSearchParams({ model: modelPath, n: '0' })}`);
    expectStopped('Firefox', (await page.evaluate(pageStopScript(modelPath))) as StopResult[]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('demo page: Stop ends the generation within 100 ms of the click', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/examples/web/`); // the built-in model: long enough a generation
    expectDemoStopped('Firefox', (await page.evaluate(DEMO_STOP_SCRIPT)) as DemoStopResult);
    expect(errors).toEqual([]);
    await page.close();
  });
});
