// The completion routes' streaming shell (src/server/sse.ts) on its own, in a Hono app behind the real
// guard: what it does with a generation that fails after the status was sent, with items that write
// nothing, with a last item, and with a client that cancels the stream.
import { Hono } from 'hono/tiny';
import { describe, expect, it } from 'vitest';
import type { GeneratedToken } from '../../src/generate/generate.js';
import type { SessionOutcome } from '../../src/server/completion.js';
import { guard } from '../../src/server/guard.js';
import { allItems, clientAbort, firstItem, sseResponse } from '../../src/server/sse.js';

interface Seen { parkedAfterLast: boolean; returned: boolean; aborted: boolean }

/** An app whose one route streams `generate(signal, seen)`: an event per item with text, `opening` first. */
function appOf(generate: (signal: AbortSignal, seen: Seen) => AsyncGenerator<GeneratedToken>, seen: Seen) {
  const app = new Hono();
  app.use('*', guard({ apiKeys: [], allowedHosts: '*', corsOrigins: [], maxBodyBytes: 1 << 20, requestTimeoutMs: 10_000, writeTimeoutMs: 10_000, clientAddress: () => null }, () => false));
  app.post('/stream', async (c) => {
    const abort = clientAbort(c);
    abort.signal.addEventListener('abort', () => { seen.aborted = true; });
    const items = generate(abort.signal, seen);
    const outcome: SessionOutcome = { status: 'new' };
    const head: Record<string, unknown> = {};
    const first = await firstItem(c, items, abort, outcome, head);
    if (c.req.query('plain') !== undefined) return c.json({ head, text: (await allItems(first, items, abort)).map((i) => i.text).join('') });
    return sseResponse(c, abort, items, first, {
      opening: (out) => out.event({ opening: true }),
      send(item, out) {
        if (!item.text && !item.finishReason) return false;
        out.event({ text: item.text, finish: item.finishReason ?? null, parked: seen.parkedAfterLast });
        if (item.finishReason) out.done();
        return true;
      },
    });
  });
  return app;
}

const post = (app: Hono, query = '') => app.fetch(new Request(`http://local/stream${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
const events = (text: string) => text.split('\n\n').filter((e) => e !== '').map((e) => e.replace(/^data: /, ''));
const item = (text: string, finishReason?: GeneratedToken['finishReason']): GeneratedToken => ({ token: 1, text, ...(finishReason ? { finishReason } : {}) });

describe('the streaming shell of the completion routes', () => {
  it('sends the opening, skips items that write nothing, parks the session before the last event, then [DONE]', async () => {
    const seen: Seen = { parkedAfterLast: false, returned: false, aborted: false };
    const app = appOf(async function* (_signal, s) {
      yield item('a');
      yield item(''); // text held back: no event, and the stream goes on to the next item
      yield item('b', 'length');
      s.parkedAfterLast = true; // the generator runs to its end before the last event is sent
    }, seen);
    const r = await post(app);
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    expect(r.headers.get('bimamba-session-status')).toBe('new');
    expect(events(await r.text())).toEqual([
      '{"opening":true}',
      '{"text":"a","finish":null,"parked":false}',
      '{"text":"b","finish":"length","parked":true}',
      '[DONE]',
    ]);
  });

  it('ends with an error event when the generation fails after the status was sent', async () => {
    const seen: Seen = { parkedAfterLast: false, returned: false, aborted: false };
    const app = appOf(async function* () {
      yield item('a');
      throw new Error('the store failed');
    }, seen);
    const r = await post(app);
    expect(r.status).toBe(200);
    const got = events(await r.text());
    expect(got.slice(0, 2)).toEqual(['{"opening":true}', '{"text":"a","finish":null,"parked":false}']);
    expect(got).toHaveLength(3);
    expect(JSON.parse(got[2]).error.message).toBe('internal error'); // the error table keeps the cause to the log
  });

  it('a failing first item is the answer\'s status, not an event', async () => {
    const seen: Seen = { parkedAfterLast: false, returned: false, aborted: false };
    const app = appOf(async function* () {
      yield* [];
      throw new Error('no turn');
    }, seen);
    const r = await post(app);
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).not.toBe('text/event-stream');
  });

  it('a cancelled stream aborts the generation and ends it', async () => {
    const seen: Seen = { parkedAfterLast: false, returned: false, aborted: false };
    const app = appOf(async function* (signal, s) {
      try {
        for (let i = 0; !signal.aborted; i++) yield item(`t${i}`);
      } finally {
        s.returned = true;
      }
    }, seen);
    const r = await post(app);
    const reader = r.body!.getReader();
    await reader.read(); // the opening
    await reader.read(); // one item
    await reader.cancel();
    expect(seen.aborted).toBe(true);
    expect(seen.returned).toBe(true);
  });

  it('a plain request gets every item, and the session status in its head', async () => {
    const seen: Seen = { parkedAfterLast: false, returned: false, aborted: false };
    const app = appOf(async function* () {
      yield item('a');
      yield item('b', 'eos');
    }, seen);
    const r = await post(app, '?plain');
    expect(await r.json()).toEqual({ head: { session_status: 'new' }, text: 'ab' });
  });
});
