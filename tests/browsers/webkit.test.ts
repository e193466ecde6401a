// WebKit (WebKitGTK's MiniBrowser in Xvfb, driven through Debian's WebKitWebDriver by selenium-webdriver) runs
// the browser example: Node's greedy text, and the same token ids from a direct import, with the
// threads it could get (where it gets none, the single-threaded fallback is what ran).
import type { Server } from 'node:http';
import { relative } from 'node:path';
import { Builder, By, until, type WebDriver } from 'selenium-webdriver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, need, shouldRun, startService, waitForPort, type Service } from '../runtimes/hosts.js';
import { MAX_TOKENS, nodeGreedy, PROMPT, ROOT, tinyModel } from '../runtimes/model.js';
import { waitForLine } from '../server/serve.js';
import { HOW_WEBKIT, inPage, WEBKIT_DRIVER, XVFB } from './browsers.js';
import { DEMO_STOP_SCRIPT, expectDemoStopped, expectStopped, pageStopScript, type DemoStopResult, type StopResult } from './stop.js';
// @ts-expect-error: a plain ES module without types
import { serve } from '../../examples/web/serve.mjs';

describe.runIf(shouldRun('WebKit', WEBKIT_DRIVER, HOW_WEBKIT))('WebKit', () => {
  let server: Server;
  let driverService: Service;
  let xvfb: Service | undefined;
  let driver: WebDriver;
  let base: string;
  let modelPath: string;
  let expected: { tokens: number[]; text: string };

  beforeAll(async () => {
    const model = await tinyModel();
    modelPath = '/' + relative(ROOT, model).split('\\').join('/');
    expected = await nodeGreedy(model);
    server = await serve(ROOT, 0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const port = await freePort();
    let display = process.env.DISPLAY;
    if (!display) {
      // a display of our own: Xvfb picks a free number and prints it (-displayfd 1)
      xvfb = startService(need('Xvfb', XVFB, HOW_WEBKIT), ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp']);
      display = `:${(await waitForLine(xvfb, /^(\d+)$/m))[1]}`;
    }
    driverService = startService(need('WebKit', WEBKIT_DRIVER, HOW_WEBKIT), [`--port=${port}`, '--host=127.0.0.1'], { env: { ...process.env, DISPLAY: display } });
    await waitForPort(port, driverService);
    driver = await new Builder()
      .usingServer(`http://127.0.0.1:${port}`)
      .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { args: ['--automation'] } })
      .build();
  });
  afterAll(async () => {
    await driver?.quit();
    await driverService?.stop();
    await xvfb?.stop();
    await new Promise((r) => server?.close(r));
  });

  it('runs the browser example with Node’s greedy text and token ids', async () => {
    const query = new URLSearchParams({ model: modelPath, prompt: PROMPT, n: String(MAX_TOKENS) });
    await driver.get(`${base}/examples/browser/?${query}`);
    const output = await driver.wait(until.elementLocated(By.css('#output[data-done]')), 60_000);
    expect(await output.getText()).toBe(expected.text.trim()); // WebDriver's text is trimmed, as rendered
    expect(await driver.executeScript('return document.getElementById("output").textContent')).toBe(expected.text);
    await driver.manage().setTimeouts({ script: 60_000 });
    const got = (await driver.executeAsyncScript(`const done = arguments[arguments.length - 1]; ${inPage(modelPath)}.then(done, (e) => done({ error: String(e) }));`)) as {
      tokens: number[]; threads: number; isolated: boolean; agent: string; error?: string;
    };
    expect(got.error).toBeUndefined();
    console.log(`WebKit: ${got.agent}; cross-origin isolated ${got.isolated}, ${got.threads} thread(s)`);
    expect(got.tokens).toEqual(expected.tokens);
  });

  /** Run a page script (an expression whose value is a promise) and return what it resolves to. */
  async function inPageAsync<T>(script: string): Promise<T> {
    await driver.manage().setTimeouts({ script: 60_000 });
    return (await driver.executeAsyncScript(`const done = arguments[arguments.length - 1]; ${script}.then(done, (e) => done({ error: String(e) }));`)) as T;
  }

  it('stops a generation within 100 ms of an abort by a timer, AbortSignal.timeout or a worker’s message; timers run meanwhile', async () => {
    await driver.get(`${base}/examples/browser/?${new URLSearchParams({ model: modelPath, n: '0' })}`);
    await driver.wait(until.elementLocated(By.css('#output[data-done]')), 60_000);
    const results = await inPageAsync<StopResult[] | { error: string }>(pageStopScript(modelPath));
    expect((results as { error?: string }).error).toBeUndefined();
    expectStopped('WebKit', results as StopResult[]);
  });

  it('demo page: Stop ends the generation within 100 ms of the click', async () => {
    await driver.get(`${base}/examples/web/`); // the built-in model: long enough a generation
    expectDemoStopped('WebKit', await inPageAsync<DemoStopResult>(DEMO_STOP_SCRIPT));
  });
});
