// What the Firefox and WebKit tests share: where the browsers are, and the script each page runs.
import { existsSync } from 'node:fs';
import { MAX_TOKENS, PROMPT } from '../runtimes/model.js';

export const FIREFOX = existsSync('/usr/bin/firefox-esr') ? '/usr/bin/firefox-esr' : null;
export const HOW_FIREFOX = 'apt-get install firefox-esr';
export const WEBKIT_DRIVER = existsSync('/usr/bin/WebKitWebDriver') ? '/usr/bin/WebKitWebDriver' : null;
export const HOW_WEBKIT = 'apt-get install webkit2gtk-driver xvfb';
/** MiniBrowser (WebKitGTK) has no headless mode: without a display it runs in Xvfb. */
export const XVFB = existsSync('/usr/bin/Xvfb') ? '/usr/bin/Xvfb' : null;

/**
 * A page script (a string: the test runner must not rewrite its import()): the greedy token ids from a
 * direct import of the bundle, the threads the model got and whether the page is cross-origin isolated.
 */
export function inPage(modelPath: string): string {
  return `(async () => {
    const { loadModel } = await import('/dist/index.js');
    const model = await loadModel(new URL(${JSON.stringify(modelPath)}, location.href));
    const tokens = [];
    for await (const { token } of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: ${MAX_TOKENS}, temperature: 0 })) tokens.push(token);
    const threads = model.threads;
    model.dispose();
    return { tokens, threads, isolated: self.crossOriginIsolated === true, agent: navigator.userAgent };
  })()`;
}
