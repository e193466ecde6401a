// The model cache in Firefox (puppeteer-core over WebDriver BiDi) and WebKit (WebKitGTK's MiniBrowser in
// Xvfb through WebKitWebDriver): the same scenario as Chromium's (tests/cache/browser-scenario.ts).
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { Builder, type WebDriver } from 'selenium-webdriver';
import { afterAll, describe, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { cacheScenario } from '../cache/browser-scenario.js';
import { readBytes } from '../cache/server.js';
import { freePort, need, shouldRun, startService, waitForPort, type Service } from '../runtimes/hosts.js';
import { tinyModel } from '../runtimes/model.js';
import { waitForLine } from '../server/serve.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { FIREFOX, HOW_FIREFOX, HOW_WEBKIT, WEBKIT_DRIVER, XVFB } from './browsers.js';

async function reference(): Promise<{ bytes: Uint8Array; expected: number[]; other: Uint8Array }> {
  const path = await tinyModel();
  const model = await loadModel(path, { wasm: WASM });
  const expected: number[] = [];
  for await (const t of model.generate('The history of', { maxTokens: 8, temperature: 0 })) expected.push(t.token);
  model.dispose();
  return { bytes: readBytes(path), expected, other: readBytes(await convertFixture('mamba2-tiny-hf')) };
}

describe.runIf(shouldRun('Firefox', FIREFOX, HOW_FIREFOX))('the model cache in Firefox', () => {
  let browser: Browser | undefined;
  afterAll(() => browser?.close());

  it('second load without a request, offline, a flipped byte refetched, an interrupted download resumed', async () => {
    const { bytes, expected, other } = await reference();
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: need('Firefox', FIREFOX, HOW_FIREFOX), headless: true, protocol: 'webDriverBiDi' });
    const page: Page = await browser.newPage();
    await cacheScenario('Firefox', { open: async (url) => void (await page.goto(url)), evaluate: (script) => page.evaluate(script) }, bytes, expected, other);
  });
});

describe.runIf(shouldRun('WebKit', WEBKIT_DRIVER, HOW_WEBKIT))('the model cache in WebKit', () => {
  let driver: WebDriver | undefined;
  let driverService: Service | undefined;
  let xvfb: Service | undefined;
  afterAll(async () => {
    await driver?.quit();
    await driverService?.stop();
    await xvfb?.stop();
  });

  it('second load without a request, offline, a flipped byte refetched, an interrupted download resumed (where it keeps partial files)', async () => {
    const { bytes, expected, other } = await reference();
    const port = await freePort();
    let display = process.env.DISPLAY;
    if (!display) {
      xvfb = startService(need('Xvfb', XVFB, HOW_WEBKIT), ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp']);
      display = `:${(await waitForLine(xvfb, /^(\d+)$/m))[1]}`;
    }
    driverService = startService(need('WebKit', WEBKIT_DRIVER, HOW_WEBKIT), [`--port=${port}`, '--host=127.0.0.1'], { env: { ...process.env, DISPLAY: display } });
    await waitForPort(port, driverService);
    driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { args: ['--automation'] } }).build();
    await driver.manage().setTimeouts({ script: 60_000 });
    const d = driver;
    await cacheScenario('WebKit', {
      open: (url) => d.get(url),
      storageEndsWithDocument: true,
      evaluate: async (script) => {
        const got = (await d.executeAsyncScript(`const done = arguments[arguments.length - 1]; ${script}.then((v) => done({ v }), (e) => done({ e: String(e) }));`)) as { v?: unknown; e?: string };
        if (got.e !== undefined) throw new Error(got.e);
        return got.v;
      },
    }, bytes, expected, other);
  });
});
