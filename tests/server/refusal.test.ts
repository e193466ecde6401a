// The refusal path (src/server/refusal.ts): a request over its client's caps is answered 503 before its
// body is read, and a client that keeps being refused has its 503s held back and its connection closed,
// while other clients are answered as before. Behaviour only: which answer, which header, in what order;
// how long a refusal waits is asserted through the Refusals table's own arithmetic, not a clock.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { createApp, type AppOptions } from '../../src/server/app.js';
import { Hono } from 'hono/tiny';
import { BURST_MS, Gate } from '../../src/server/gate.js';
import { guard } from '../../src/server/guard.js';
import { listen } from '../../src/server/node.js';
import { FORGET_MS, MAX_REFUSAL_DELAY_MS, REFUSAL_DELAY_MS, REFUSALS_FREE, REQUEST_COST_MS, Refusals, refuseEarly } from '../../src/server/refusal.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A POST to the app as client `from` (the test's clientAddress reads x-test-client), with a raw body. */
const send = (app: ReturnType<typeof createApp>, from: string, body: string, path = '/v1/completions') =>
  app.fetch(new Request(`http://local${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-client': from }, body }));
const completion = (body: Record<string, unknown>) => JSON.stringify({ model: 'default', ...body });
const testClient = { clientAddress: (c: { req: { header(n: string): string | undefined } }) => c.req.header('x-test-client') ?? null };

describe('Gate.refusal', () => {
  it('names a client at both its caps, and a full queue with every turn taken; null otherwise', async () => {
    const gate = new Gate(2, 2, { active: 1, waiting: 1 });
    expect(gate.refusal('a')).toBeNull();
    const a1 = await gate.enter(undefined, 'a');
    expect(gate.refusal('a')).toBeNull(); // may still wait
    const a2 = gate.enter(undefined, 'a');
    expect(gate.refusal('a')).toMatch(/this client has 1 requests waiting/);
    await expect(gate.enter(undefined, 'a')).rejects.toThrow(/waiting already/); // what enter() would say too
    expect(gate.refusal('b')).toBeNull(); // another client: a free turn
    expect(gate.refusal(null)).toBeNull();
    const b1 = await gate.enter(undefined, 'b');
    const b2 = gate.enter(undefined, 'b');
    expect(gate.refusal('c')).toMatch(/2 requests running and 2 waiting/); // every turn taken, the queue full
    expect(gate.refusal(null)).toMatch(/2 requests running/);
    a1();
    (await a2)();
    b1();
    (await b2)();
    expect(gate.refusal('a')).toBeNull();
    expect(gate.refusal('c')).toBeNull();
  });
});

describe('a request costs its client', () => {
  it('charges land on a client whose request has left the gate while another client has one in; alone, nothing is charged', async () => {
    const gate = new Gate(4, 16);
    (await gate.enter(undefined, 'flood'))(); // in and out
    gate.charge('flood', 50);
    expect(gate.creditOf('flood')).toBe(BURST_MS); // no other client had a request in: free
    const normal = await gate.enter(undefined, 'normal');
    (await gate.enter(undefined, 'flood'))();
    gate.charge('flood', 50); // it left, but 'normal' waited beside it: its budget pays
    expect(gate.creditOf('flood')).toBeLessThan(BURST_MS - 40);
    expect(gate.creditOf('normal')).toBe(BURST_MS);
    normal();
  });

  it('every request let through the refusal path charges its client REQUEST_COST_MS, besides its turn (#27 flooders)', async () => {
    const charges: Array<[string | null, number]> = [];
    const gate = new (class extends Gate {
      override charge(client: string | null, ms: number): void {
        charges.push([client, ms]);
        super.charge(client, ms);
      }
    })(4, 16);
    const app = new Hono();
    app.use('*', guard({ apiKeys: [], allowedHosts: '*', corsOrigins: [], maxBodyBytes: 1024, requestTimeoutMs: 10_000, writeTimeoutMs: 10_000, clientAddress: (c) => c.req.header('x-test-client') ?? null }, () => false));
    app.use('/v1/completions', refuseEarly(gate));
    app.post('/v1/completions', (c) => c.json({ ok: true }));
    for (let i = 0; i < 3; i++) expect((await send(app as never, 'flood', '{}')).status).toBe(200);
    expect(charges).toEqual([['flood', REQUEST_COST_MS], ['flood', REQUEST_COST_MS], ['flood', REQUEST_COST_MS]]);
  });
});

describe('Refusals (the tarpit)', () => {
  it('answers the first refusals at once, then holds each back longer, up to the cap; refusals are forgotten with time', () => {
    const r = new Refusals();
    const delays = Array.from({ length: REFUSALS_FREE + 40 }, () => r.refused('flood', 0));
    expect(delays.slice(0, REFUSALS_FREE)).toEqual(new Array(REFUSALS_FREE).fill(0));
    expect(delays[REFUSALS_FREE]).toBe(REFUSAL_DELAY_MS);
    expect(delays[REFUSALS_FREE + 1]).toBe(2 * REFUSAL_DELAY_MS);
    expect(delays.at(-1)).toBe(MAX_REFUSAL_DELAY_MS);
    expect(r.refused('other', 0)).toBe(0); // per address: another client is not held back
    // a client refused now and then (one per FORGET_MS) is always answered at once
    const patient = new Refusals();
    for (let i = 0; i < 100; i++) expect(patient.refused('p', i * FORGET_MS)).toBe(0);
    // after a quiet while, the flooder's count is forgotten, and so is its entry
    const later = (REFUSALS_FREE + 41) * FORGET_MS + 1000;
    expect(r.refused('flood', later)).toBe(0);
    expect(r.refused('x', later + 2000)).toBe(0);
    expect(r.size).toBe(1); // only 'x' left
  });
});

describe('the refusal path', () => {
  it('a client over its caps gets 503 busy before its body is read (a body that is not JSON at all), other clients are served (#27 flooders)', async () => {
    const app = createApp({ model, maxActive: 2, maxWaiting: 4, maxActivePerClient: 1, maxWaitingPerClient: 1, ...testClient } as AppOptions);
    const held = await send(app, 'flood', completion({ prompt: 'The king', max_tokens: 4000, stream: true }));
    expect(held.status).toBe(200); // 'flood' runs all it may
    const waiting = send(app, 'flood', completion({ prompt: 'The queen', max_tokens: 1 })); // and waits all it may
    await sleep(50);
    for (const path of ['/v1/completions', '/v1/chat/completions', '/v1/embeddings']) {
      const r = await send(app, 'flood', '{"this is": not json', path);
      expect(r.status).toBe(503); // without the early refusal: 400, the body parsed first
      expect(r.headers.get('retry-after')).toBe('1');
      expect((await r.json()).error).toMatchObject({ code: 'busy', type: 'server_error' });
    }
    // the same bad body from a client under its caps is parsed, and refused for what it is
    expect((await send(app, 'normal', '{"this is": not json')).status).toBe(400);
    const normal = await send(app, 'normal', completion({ prompt: 'The prince', max_tokens: 2 }));
    expect(normal.status).toBe(200);
    await held.body!.cancel();
    expect((await waiting).status).toBe(200); // the waiter got its turn
    expect((await send(app, 'flood', completion({ prompt: 'x', max_tokens: 1 }))).status).toBe(200); // under its caps again
  });

  it('a client refused again and again has its 503s held back, with the connection closed after; another client is answered as before (Node server)', { timeout: 60_000 }, async () => {
    const app = createApp({ model, maxActive: 2, maxWaiting: 4, maxActivePerClient: 1, maxWaitingPerClient: 0 });
    const server = await listen(app, 0, '127.0.0.1');
    const request = (from: string, body: string) =>
      new Promise<{ status: number; connection: string | undefined; body: string; res: http.IncomingMessage }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: server.port, localAddress: from, path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json' }, agent: new http.Agent({ keepAlive: true }) }, (res) => {
          if (res.headers['content-type']?.startsWith('text/event-stream')) return resolve({ status: res.statusCode!, connection: res.headers.connection, body: '', res });
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body: text, res }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const held = await request('127.0.0.3', completion({ prompt: 'The king', max_tokens: 4000, stream: true }));
      expect(held.status).toBe(200);
      const answers = [];
      for (let i = 0; i < REFUSALS_FREE + 2; i++) answers.push(await request('127.0.0.3', completion({ prompt: 'x', max_tokens: 0, session: `flood-${i}` })));
      expect(answers.map((a) => a.status)).toEqual(new Array(REFUSALS_FREE + 2).fill(503));
      // the free ones keep their connection; past them each is held back and its connection closed
      expect(answers.slice(0, REFUSALS_FREE).map((a) => a.connection)).toEqual(new Array(REFUSALS_FREE).fill('keep-alive'));
      expect(answers.slice(REFUSALS_FREE).map((a) => a.connection)).toEqual(['close', 'close']);
      // the flooder's neighbour is served, on a connection kept alive
      const normal = await request('127.0.0.1', completion({ prompt: 'The prince', max_tokens: 2 }));
      expect(normal.status).toBe(200);
      expect(normal.connection).toBe('keep-alive');
      held.res.destroy();
      while (((await (await app.fetch(new Request('http://local/health'))).json()) as { running: number }).running > 0) await sleep(20); // its generation ended
    } finally {
      server.closeAll();
      await server.close();
    }
  });
});
