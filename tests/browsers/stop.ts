// Stopping a generation in a browser, every way a page stops one, as page scripts (strings: the test
// runner must not rewrite their import()) that Chromium, Firefox and WebKit run alike, and the checks on
// what they measure. A generation must end within STOP_MS of its abort, and a timer set during it must
// not run much later than asked (the page stays responsive).
import { expect } from 'vitest';

/** How long after the abort (or the click on Stop) the generation may still run. */
export const STOP_MS = 100;
/**
 * How late a timer may run while the page generates. Not a speed target (the figure is printed): a host
 * that starves timers (scheduler.yield in Chromium did) runs them only once the generation is over, seconds
 * late; a shared, busy machine can make a healthy page some tens of ms late.
 */
const TIMER_LATENESS_MS = 500;
/** When the page's abort comes, after the generation started. */
const ABORT_AFTER_MS = 200;

export interface StopResult {
  way: string;
  /** Tokens generated before the end. */
  tokens: number;
  finishReason: string | null;
  /** From the abort (its event in the page) to the generation's end. */
  stopMs: number;
  /** From the moment the abort was due (ABORT_AFTER_MS after the start) to the generation's end. */
  afterDueMs: number;
  /** The latest a 10 ms timer ran during the generation, beyond its due time. */
  timerLatenessMs: number;
  error?: string;
}

/**
 * On any page of the test server: load `modelPath` in the page and abort a long greedy generation
 * ABORT_AFTER_MS after its start by a timer, by AbortSignal.timeout, and by a MessageChannel message from
 * a Web Worker, while a 10 ms timer chain measures how late timers run.
 */
export function pageStopScript(modelPath: string): string {
  return `(async () => {
    const { loadModel } = await import('/dist/index.js');
    const model = await loadModel(new URL(${JSON.stringify(modelPath)}, location.href));
    const DELAY = ${ABORT_AFTER_MS};
    // a worker that answers a port with a message on it DELAY ms later
    const workerCode = 'onmessage = (e) => { const port = e.ports[0]; setTimeout(() => port.postMessage("stop"), ' + DELAY + '); };';
    const worker = new Worker(URL.createObjectURL(new Blob([workerCode], { type: 'text/javascript' })));
    const ways = {
      setTimeout: (c) => { setTimeout(() => c.abort(), DELAY); return c.signal; },
      'AbortSignal.timeout': () => AbortSignal.timeout(DELAY),
      'MessageChannel message from a worker': (c) => {
        const { port1, port2 } = new MessageChannel();
        port1.onmessage = () => { port1.close(); c.abort(); };
        worker.postMessage(null, [port2]);
        return c.signal;
      },
    };
    const results = [];
    for (const [way, arm] of Object.entries(ways)) {
      const started = performance.now();
      const signal = arm(new AbortController());
      let abortedAt = NaN;
      signal.addEventListener('abort', () => { abortedAt = performance.now(); });
      let lateness = 0;
      let due = started + 10;
      let timer = 0;
      const tick = () => {
        const now = performance.now();
        lateness = Math.max(lateness, now - due);
        due = now + 10;
        timer = setTimeout(tick, 10);
      };
      timer = setTimeout(tick, 10);
      let tokens = 0;
      let finishReason = null;
      try {
        for await (const t of model.generate('Once upon a time', { maxTokens: 20000, temperature: 0, stopAtEos: false, signal, abort: 'finish' })) {
          if (t.token >= 0) tokens++;
          if (t.finishReason) finishReason = t.finishReason;
        }
      } catch (e) {
        results.push({ way, error: String(e) });
        continue;
      } finally {
        clearTimeout(timer);
      }
      const ended = performance.now();
      results.push({ way, tokens, finishReason, stopMs: ended - abortedAt, afterDueMs: ended - (started + DELAY), timerLatenessMs: lateness });
    }
    worker.terminate();
    model.dispose();
    return results;
  })()`;
}

/**
 * On the demo page (examples/web/), once its model is loaded: generate (the model runs in the page's Web
 * Worker), click Stop 500 ms later and measure until the page is ready again.
 */
export const DEMO_STOP_SCRIPT = `(async () => {
  const $ = (id) => document.getElementById(id);
  const state = () => document.body.dataset.state;
  const changed = () => new Promise((resolve) => {
    const observer = new MutationObserver(() => { observer.disconnect(); resolve(performance.now()); });
    observer.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  });
  const started = performance.now();
  while (state() !== 'ready') {
    if (state() === 'error' || performance.now() - started > 60000) return { error: 'the demo did not load: ' + $('model-status').textContent };
    await changed();
  }
  $('prompt').value = 'Once upon a time';
  $('max-tokens').value = '4096';
  $('temperature').value = '0';
  $('form').requestSubmit();
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (state() !== 'generating') return { error: 'the generation ended before Stop, after ' + $('token-count').textContent + ' tokens' };
  const tokensAtClick = Number($('token-count').textContent);
  const ended = changed();
  const clicked = performance.now();
  $('stop').click();
  const end = await ended;
  return { stopMs: end - clicked, tokensAtClick, tokens: Number($('token-count').textContent), state: state() };
})()`;

export interface DemoStopResult {
  stopMs: number;
  tokensAtClick: number;
  tokens: number;
  state: string;
  error?: string;
}

/** Every way stopped the generation in time, and timers ran meanwhile. */
export function expectStopped(browser: string, results: StopResult[]): void {
  for (const r of results) {
    console.log(`${browser}, abort by ${r.way}: ${r.tokens} tokens, ended ${r.stopMs?.toFixed(1)} ms after the abort (${r.afterDueMs?.toFixed(1)} ms after it was due); timer lateness at most ${r.timerLatenessMs?.toFixed(1)} ms`);
  }
  expect(results.map((r) => r.way)).toEqual(['setTimeout', 'AbortSignal.timeout', 'MessageChannel message from a worker']);
  for (const r of results) {
    expect(r.error, r.way).toBeUndefined();
    expect(r.finishReason, r.way).toBe('abort'); // not 'length': the abort came while it generated
    expect(r.tokens, r.way).toBeGreaterThan(0);
    expect(r.stopMs, r.way).toBeLessThan(STOP_MS);
    expect(r.afterDueMs, r.way).toBeLessThan(TIMER_LATENESS_MS); // the abort's timer or message was not held back
    expect(r.timerLatenessMs, r.way).toBeLessThan(TIMER_LATENESS_MS);
  }
}

/** The demo's Stop ended the generation within STOP_MS of the click. */
export function expectDemoStopped(browser: string, r: DemoStopResult): void {
  expect(r.error).toBeUndefined();
  console.log(`${browser}, the demo's Stop: ended ${r.stopMs.toFixed(1)} ms after the click, ${r.tokens} tokens (${r.tokensAtClick} at the click)`);
  expect(r.state).toBe('ready');
  expect(r.tokens).toBeLessThan(4096);
  expect(r.stopMs).toBeLessThan(STOP_MS);
}
