// The model cache in Chromium (Debian's chromium, driven by playwright-core): see browser-scenario.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { chromiumBinary, need, shouldRun } from '../runtimes/hosts.js';
import { tinyModel } from '../runtimes/model.js';
import { WASM } from '../util/wasm.js';
import { cacheScenario } from './browser-scenario.js';
import { readBytes } from './server.js';

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
    await cacheScenario('Chromium', { open: async (url) => void (await page.goto(url)), evaluate: (script) => page.evaluate(script) }, readBytes(path), expected);
    expect(errors).toEqual([]);
  });
});
