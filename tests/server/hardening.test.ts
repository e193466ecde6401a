// The server against hostile clients (issue "a server that no one client can stall"): each block is one
// attack and the answer that holds it off. Every promise SECURITY.md makes about the server names its
// test here.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BimambaError, loadModel, type Model } from '../../src/index.js';
import { createApp, type AppOptions } from '../../src/server/app.js';
import { DirectoryStore } from '../../src/server/directory-store.js';
import { WorkerEncoder } from '../../src/server/encoder-node.js';
import { apiErrorOf } from '../../src/server/error-table.js';
import { BURST_MS, Gate, Locks } from '../../src/server/gate.js';
import { DecodeBatcher } from '../../src/server/batcher.js';
import { runCompletion, type Engine } from '../../src/server/completion.js';
import { inThreadEncoder } from '../../src/server/encoder.js';
import { ParkedIndex } from '../../src/server/parked.js';
import { parseCompletionRequest } from '../../src/server/request.js';
import { listen } from '../../src/server/node.js';
import { MemoryStore } from '../../src/server/store.js';
import { OUT } from '../runtimes/model.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

type App = ReturnType<typeof createApp>;
const JSON_TYPE = { 'content-type': 'application/json' };
const post = async (app: App, body: Record<string, unknown>, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> =>
  app.fetch(new Request('http://127.0.0.1/v1/completions', { method: 'POST', headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify({ model: 'default', ...body }), ...init }));
const health = async (app: App) => (await app.fetch(new Request('http://127.0.0.1/health'))).json() as Promise<{ running: number; waiting: number }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await sleep(20);
  }
  return what();
}

/** POST over real HTTP from a chosen loopback source address; resolves with the response once its headers came. */
function httpPost(port: number, body: unknown, from = '127.0.0.1', headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, localAddress: from, path: '/v1/completions', method: 'POST', agent: false, headers: { ...JSON_TYPE, ...headers } }, resolve);
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

describe('1. slow readers', () => {
  it('a stream whose client takes no chunk for --write-timeout is ended, its turn freed, its session not parked', async () => {
    const store = new MemoryStore();
    const app = createApp({ model, store, maxActive: 1, writeTimeout: 0.3 } as AppOptions);
    const r = await post(app, { prompt: 'The king', max_tokens: 4000, stream: true, session: 'slow' });
    const reader = r.body!.getReader();
    await reader.read(); // takes one chunk, then stops reading
    expect((await health(app)).running).toBe(1);
    expect(await until(async () => (await health(app)).running === 0, 3000)).toBe(true);
    await expect(reader.read()).rejects.toThrow(/took no data/);
    expect(store.size).toBe(0);
    const next = await post(app, { prompt: 'The queen', max_tokens: 4 });
    expect(next.status).toBe(200);
  });

  it('--request-timeout caps a request: 504 with code timeout, the generation stopped', async () => {
    const app = createApp({ model, maxActive: 1, requestTimeout: 0.3 } as AppOptions);
    const t0 = performance.now();
    const r = await post(app, { prompt: 'The king', max_tokens: 4000 });
    expect(r.status).toBe(504);
    expect((await r.json()).error).toMatchObject({ type: 'server_error', code: 'timeout' });
    expect(performance.now() - t0).toBeLessThan(3000); // 4000 tokens take far longer
    expect(await until(async () => (await health(app)).running === 0, 2000)).toBe(true);
  });

  it('20 stalled readers from one address: other clients are served in their normal time', { timeout: 60_000 }, async () => {
    const app = createApp({ model, maxActive: 4, maxWaiting: 16, writeTimeout: 2 } as AppOptions);
    const server = await listen(app, 0, '127.0.0.1');
    const stalled: http.IncomingMessage[] = [];
    try {
      const normal = async () => {
        const t0 = performance.now();
        const res = await httpPost(server.port, { model: 'default', prompt: 'The queen', max_tokens: 8, temperature: 0 });
        const text = await readAll(res);
        expect(res.statusCode, text).toBe(200);
        return performance.now() - t0;
      };
      await normal(); // warm
      const idle: number[] = [];
      for (let i = 0; i < 5; i++) idle.push(await normal());
      for (let i = 0; i < 20; i++) {
        httpPost(server.port, { model: 'default', prompt: 'Once upon a time', max_tokens: 4000, stream: true }, '127.0.0.2').then(
          (res) => {
            stalled.push(res);
            res.pause(); // reads the headers, then nothing
          },
          () => {}, // refused at the connection: fine
        );
      }
      await sleep(500);
      const h = await health(app);
      expect(h.running).toBeLessThanOrEqual(2); // one address holds at most half the turns
      const loaded: number[] = [];
      for (let i = 0; i < 5; i++) loaded.push(await normal());
      const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
      // two stalled completions still decode into the socket buffers beside it: within 3x, not 503s or seconds
      expect(median(loaded)).toBeLessThan(3 * median(idle) + 100);
    } finally {
      for (const res of stalled) res.destroy();
      server.closeAll();
      await server.close();
    }
  });

  it('caps open connections per client address', async () => {
    const app = createApp({ model } as AppOptions);
    const server = await listen(app, 0, '127.0.0.1', { maxConnectionsPerClient: 3 });
    const sockets: net.Socket[] = [];
    try {
      const closed: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        const s = net.connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.3' });
        const index = i;
        closed[index] = false;
        s.on('close', () => (closed[index] = true));
        s.on('error', () => {});
        sockets.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await sleep(200);
      expect(closed).toEqual([false, false, false, true, true]);
      // another address is not affected
      const ok = await httpPost(server.port, { model: 'default', prompt: 'x', max_tokens: 1 }, '127.0.0.4');
      expect(ok.statusCode).toBe(200);
      await readAll(ok);
    } finally {
      for (const s of sockets) s.destroy();
      server.closeAll();
      await server.close();
    }
  });

  it('the gate gives a freed turn to the client that runs the fewest, and caps each client', async () => {
    const gate = new Gate(2, 8, { active: 1, waiting: 2 });
    const a1 = await gate.enter(undefined, 'a');
    const a2 = gate.enter(undefined, 'a'); // a is at its cap: waits though a turn is free
    const b1 = await gate.enter(undefined, 'b'); // b gets the free turn past a's waiter
    const a3 = gate.enter(undefined, 'a');
    await expect(gate.enter(undefined, "a")).rejects.toThrow(/2 requests waiting/);
    await expect(new Gate(1, 0).enter()).resolves.toBeTypeOf("function"); // --max-waiting 0: a free turn is still taken
    expect(gate.waitingCount).toBe(2);
    a1();
    const second = await a2;
    expect(gate.runningCount).toBe(2);
    second();
    (await a3)();
    b1();
    expect(gate.runningCount).toBe(0);
  });

  it('fair share of the thread: a client that spent its busy-time budget waits while another has a request in (#27 flooders)', async () => {
    const gate = new Gate(4, 16, { active: 2, waiting: 8 });
    const order: string[] = [];
    const take = (client: string) => gate.enter(undefined, client).then((leave) => (order.push(client), leave));
    const n1 = await take('normal'); // a normal client's long generation holds a turn
    // the flooder's requests each report their prompt and parking work: the first takes its budget, the second more
    for (const ms of [BURST_MS, 10 * BURST_MS]) {
      const leave = await take('flood');
      gate.charge('flood', ms);
      leave();
    }
    // in debt: no turn for it while 'normal' has a request in, though three turns are free
    let flooded = false;
    const f4 = take('flood').then((leave) => ((flooded = true), leave));
    await sleep(20);
    expect(flooded).toBe(false);
    expect(gate.runningCount).toBe(1);
    expect(gate.waitingCount).toBe(1);
    const n2 = await take('normal'); // the other client's next request is not held back: a free turn at once
    expect(order).toEqual(['normal', 'flood', 'flood', 'normal']);
    // once 'normal' has nothing in, the flooder is alone: its waiter goes at once, whatever its debt
    n1();
    n2();
    (await f4)();
    expect(order.at(-1)).toBe('flood');
    // charges of unknown clients (null) and of nothing are ignored; a client alone is never held back
    gate.charge(null, 1e9);
    gate.charge('solo', 1e9);
    (await gate.enter(undefined, 'solo'))();
    expect(gate.runningCount).toBe(0);
  });

  it('a completion charges its client: a flooder of max_tokens 0 under fresh names spends its budget, one request after another (#27)', async () => {
    const limits = { maxTokens: 16, maxPromptLength: 65536 };
    const engine: Engine = { model, store: new MemoryStore(), gate: new Gate(4, 16, { active: 1, waiting: 8 }), locks: new Locks(), batcher: new DecodeBatcher(), parked: new ParkedIndex(4), encode: inThreadEncoder(model), limits };
    const leaveNormal = await engine.gate.enter(undefined, 'normal'); // another client has a request in
    const credits: number[] = [engine.gate.creditOf('flood')];
    for (let i = 0; i < 3; i++) {
      const req = parseCompletionRequest({ model: 'default', prompt: 'x', max_tokens: 0, session: `flood-${i}` }, {}, limits);
      for await (const _ of runCompletion(engine, req, new AbortController().signal, { owner: '', client: 'flood' }));
      credits.push(engine.gate.creditOf('flood'));
    }
    // each request's restore, feed, snapshot and store write were paid from the flooder's budget; the
    // other client's untouched
    expect(credits[0]).toBe(BURST_MS);
    for (let i = 1; i < credits.length; i++) expect(credits[i]).toBeLessThan(credits[i - 1]);
    expect(engine.gate.creditOf('normal')).toBe(BURST_MS);
    leaveNormal();
  });

  it('max_tokens 0 on a cached prompt parks the cached state itself, not a copy, and the session continues as if fed (#27 flooders)', async () => {
    // one store for sessions and prompt cache, recording what is written
    const written: Array<{ key: string; bytes: Uint8Array }> = [];
    const store = new (class extends MemoryStore {
      override async set(key: string, bytes: Uint8Array): Promise<void> {
        written.push({ key, bytes });
        return super.set(key, bytes);
      }
    })();
    const app = createApp({ model, store, promptCache: store });
    const text = async (r: Response) => {
      expect(r.status).toBe(200);
      return ((await r.json()) as { choices: Array<{ text: string }> }).choices[0].text;
    };
    await text(await post(app, { prompt: 'The queen said', max_tokens: 0, session: 'first' })); // fed: the prompt cache has it now
    await text(await post(app, { prompt: 'The queen said', max_tokens: 0, session: 'second' })); // restored from the cache, fed nothing
    const cached = written.filter((w) => w.key.includes('-pc-'));
    const first = written.find((w) => w.key.endsWith('.first'))!.bytes;
    const second = written.find((w) => w.key.endsWith('.second'))!.bytes;
    expect(cached).toHaveLength(1);
    expect(second).toBe(cached[0].bytes); // no snapshot taken, no copy made
    expect(second).toEqual(first); // the same state, bit for bit, as the session that was fed
    const a = await text(await post(app, { prompt: ' to the', max_tokens: 8, temperature: 0, session: 'first' }));
    const b = await text(await post(app, { prompt: ' to the', max_tokens: 8, temperature: 0, session: 'second' }));
    expect(b).toBe(a);
    expect(a.length).toBeGreaterThan(0);
  });
});

describe('2. authentication and session owners', () => {
  const KEYS = ['key-alpha-0001', 'key-bravo-0002'];

  it('no key or a wrong one: 401 in OpenAI error shape; /health open; the openai client sees AuthenticationError', async () => {
    const app = createApp({ model, apiKeys: KEYS } as AppOptions);
    const none = await post(app, { prompt: 'x', max_tokens: 1 });
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    expect((await post(app, { prompt: 'x', max_tokens: 1 }, { authorization: 'Bearer key-alpha-0002' })).status).toBe(401);
    expect((await post(app, { prompt: 'x', max_tokens: 1 }, { authorization: 'Bearer key-alpha-0001' })).status).toBe(200);
    expect((await app.fetch(new Request('http://127.0.0.1/v1/models'))).status).toBe(401);
    expect((await app.fetch(new Request('http://127.0.0.1/health'))).status).toBe(200);

    const server = await listen(app, 0, '127.0.0.1');
    try {
      const baseURL = `http://127.0.0.1:${server.port}/v1`;
      const wrong = new OpenAI({ baseURL, apiKey: 'not-a-key', maxRetries: 0 });
      await expect(wrong.completions.create({ model: 'default', prompt: 'x', max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const right = new OpenAI({ baseURL, apiKey: KEYS[1], maxRetries: 0 });
      const c = await right.completions.create({ model: 'default', prompt: 'The king', max_tokens: 2 });
      expect(c.usage?.completion_tokens).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("a session belongs to the key that created it: another key gets 404, never its state", async () => {
    const store = new MemoryStore();
    const app = createApp({ model, store, apiKeys: KEYS } as AppOptions);
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const first = await post(app, { prompt: 'The king said', max_tokens: 4, session: 'mine' }, as(KEYS[0]));
    expect(first.headers.get('bimamba-session-status')).toBe('new');
    const other = await post(app, { prompt: ' more', max_tokens: 4, session: 'mine' }, as(KEYS[1]));
    expect(other.status).toBe(404);
    expect((await other.json()).error).toMatchObject({ param: 'session', code: 'session_not_found' });
    const again = await post(app, { prompt: ' more', max_tokens: 4, session: 'mine' }, as(KEYS[0]));
    expect(again.status).toBe(200);
    expect(again.headers.get('bimamba-session-status')).toBe('continued');
    expect((await again.json()).session_status).toBe('continued');
  });

  it("the prompt cache is per API key: one key's cached prompt is not found by another key", async () => {
    const app = createApp({ model, apiKeys: KEYS } as AppOptions);
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const prompt = 'The old king had three sons, and the youngest of them was called the fool.';
    const cached = async (key: string) => ((await (await post(app, { prompt, max_tokens: 1, temperature: 0 }, as(key))).json()).usage.prompt_tokens_details.cached_tokens as number);
    expect(await cached(KEYS[0])).toBe(0);
    expect(await cached(KEYS[1])).toBe(0); // the same prompt, cached for the other key only
    expect(await cached(KEYS[0])).toBeGreaterThan(0);
    expect(await cached(KEYS[1])).toBeGreaterThan(0);
  });

  it('the prompt cache keeps to its byte budget in a store with no cap of its own', async () => {
    const store = new Map<string, Uint8Array>();
    const uncapped = { get: async (k: string) => store.get(k) ?? null, set: async (k: string, v: Uint8Array) => void store.set(k, v), delete: async (k: string) => void store.delete(k) };
    const budget = 5 * model.stateBytes + 1000; // room for five entries
    const app = createApp({ model, promptCache: uncapped, promptCacheBytes: budget } as AppOptions);
    for (let i = 0; i < 12; i++) expect((await post(app, { prompt: `Prompt number ${i} of a flood of fresh prompts.`, max_tokens: 0 })).status).toBe(200);
    const bytes = [...store.values()].reduce((n, v) => n + v.length, 0);
    expect(store.size).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(budget);
    // the newest prompt is still cached
    const r = await (await post(app, { prompt: 'Prompt number 11 of a flood of fresh prompts.', max_tokens: 1 })).json();
    expect(r.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it("admission order: a session's second request waits for its lock without a turn (the issue's reproduction)", async () => {
    const app = createApp({ model, maxActive: 2 } as AppOptions);
    const t0 = performance.now();
    await (await post(app, { prompt: 'x', max_tokens: 1 })).json();
    const solo = performance.now() - t0;
    const a = await post(app, { prompt: 'The king', max_tokens: 4000, stream: true, session: 's' }); // holds s
    const b = post(app, { prompt: 'The queen', max_tokens: 4, session: 's' }); // waits for s's lock
    await sleep(100);
    const t1 = performance.now();
    const c = await post(app, { prompt: 'x', max_tokens: 1 }); // unrelated
    expect(c.status).toBe(200);
    await c.json();
    const waited = performance.now() - t1;
    expect(waited).toBeLessThan(solo * 4 + 300); // not behind the 4000-token stream
    expect((await health(app)).running).toBe(1); // b holds no turn while it waits
    await a.body!.cancel();
    expect((await b).status).toBe(200);
  });

  it('a lock wait is abortable, and the ones behind it still wait for the holder', async () => {
    const locks = new Locks();
    const held = await locks.acquire('s');
    const gone = new AbortController();
    const waiting = locks.acquire('s', gone.signal);
    let thirdIn = false;
    const third = locks.acquire('s').then((u) => ((thirdIn = true), u));
    gone.abort(new Error('left'));
    await expect(waiting).rejects.toThrow('left');
    await sleep(20);
    expect(thirdIn).toBe(false); // the holder still holds it
    held();
    (await third)();
    expect(thirdIn).toBe(true);
  });
});

describe('3. cross-site requests and DNS rebinding', () => {
  it('a text/plain body (no preflight) is refused with 415', async () => {
    const app = createApp({ model } as AppOptions);
    const r = await post(app, { prompt: 'x', max_tokens: 1 }, { 'content-type': 'text/plain;charset=UTF-8' });
    expect(r.status).toBe(415);
    expect((await r.json()).error.code).toBe('unsupported_media_type');
    const form = await post(app, { prompt: 'x', max_tokens: 1 }, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
  });

  it('a Host name that is not the server\'s is refused; IP literals, localhost and --host-allow names pass', async () => {
    const app = createApp({ model, allowedHosts: ['bimamba.internal'] } as AppOptions);
    const withHost = (host: string) => post(app, { prompt: 'x', max_tokens: 1 }, { host });
    expect((await withHost('attacker.example:8080')).status).toBe(403);
    expect((await withHost('127.0.0.1.nip.io')).status).toBe(403);
    for (const ok of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'bimamba.internal']) expect((await withHost(ok)).status, ok).toBe(200);
  });

  it('CORS only for --cors origins: preflight answered, headers set, never credentials; other origins refused', async () => {
    const app = createApp({ model, corsOrigins: ['https://app.example'] } as AppOptions);
    const preflight = await app.fetch(new Request('http://127.0.0.1/v1/completions', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } }));
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const ok = await post(app, { prompt: 'x', max_tokens: 1 }, { origin: 'https://app.example' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const evil = await post(app, { prompt: 'x', max_tokens: 1 }, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const none = createApp({ model } as AppOptions);
    expect((await post(none, { prompt: 'x', max_tokens: 1 }, { origin: 'https://app.example' })).status).toBe(403);
  });
});

describe('4. bounded stores', () => {
  it('every store forgets a session --session-ttl after its last request', async () => {
    const memory = new MemoryStore(1 << 20, { ttlSeconds: 1 });
    await memory.set('a', new Uint8Array(10));
    expect(await memory.get('a')).not.toBeNull();
    const dir = join(OUT, 'server', 'ttl-store');
    rmSync(dir, { recursive: true, force: true });
    const files = new DirectoryStore(dir, { ttlSeconds: 1 });
    await files.set('a', new Uint8Array(10));
    expect(await files.get('a')).not.toBeNull();
    await sleep(1100);
    expect(await memory.get('a')).toBeNull();
    expect(await files.get('a')).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
    expect(new MemoryStore().ttlSeconds).toBe(24 * 60 * 60); // a default on every store
  });

  it('the directory store keeps to its count and byte caps, counting what was there before', async () => {
    const dir = join(OUT, 'server', 'capped-store');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const a = new DirectoryStore(dir, { maxFiles: 5, maxBytes: 1000 });
    for (let i = 0; i < 12; i++) await a.set(`k${i}`, new Uint8Array(100));
    expect(readdirSync(dir).length).toBe(5);
    expect(await a.get('k0')).toBeNull();
    expect(await a.get('k11')).not.toBeNull();
    const b = new DirectoryStore(dir, { maxFiles: 100, maxBytes: 450 }); // another process, a smaller cap
    await b.set('big', new Uint8Array(200));
    expect(b.bytes).toBeLessThanOrEqual(450);
    expect(readdirSync(dir).length).toBeLessThanOrEqual(3);
  });

  it("a flood of fresh names evicts only the flooder's own sessions, and an evicted session says it restarted", async () => {
    const store = new MemoryStore();
    const app = createApp({ model, store, maxSessionsPerOwner: 3, clientAddress: (c) => c.req.header('x-test-client') ?? null } as AppOptions);
    const from = (client: string) => ({ 'x-test-client': client });
    await post(app, { prompt: 'The king said', max_tokens: 2, session: 'victim' }, from('good'));
    for (let i = 0; i < 20; i++) await post(app, { prompt: 'x', max_tokens: 0, session: `flood-${i}` }, from('bad'));
    expect(store.size).toBe(4); // the victim's one and the flooder's last three
    const victim = await post(app, { prompt: ' more', max_tokens: 2, session: 'victim' }, from('good'));
    expect(victim.headers.get('bimamba-session-status')).toBe('continued');
    const evicted = await post(app, { prompt: ' more', max_tokens: 2, session: 'flood-0' }, from('bad'));
    expect(evicted.headers.get('bimamba-session-status')).toBe('new');
    expect((await evicted.json()).session_status).toBe('new');
    // streamed: the header, and the field in each chunk
    const s = await post(app, { prompt: ' more', max_tokens: 1, stream: true, session: 'flood-1' }, from('bad'));
    expect(s.headers.get('bimamba-session-status')).toBe('new');
    expect(await s.text()).toMatch(/"session_status":"new"/);
  });
});

describe('5. values that cost the server', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('a deeply nested value is a 400 before it is parsed; a huge shallow one is a 400 naming the field, echoing ~100 characters', async () => {
    const app = createApp({ model } as AppOptions);
    const send = (body: string) => app.fetch(new Request('http://127.0.0.1/v1/completions', { method: 'POST', headers: JSON_TYPE, body }));
    for (const field of ['n', 'logit_bias', 'max_tokens', 'echo']) {
      const deep = await send(`{"model":"bimamba","prompt":"x","${field}":${nested(1_000_000)}}`);
      const text = await deep.text();
      expect(deep.status, text.slice(0, 300)).toBe(400);
      expect(JSON.parse(text).error.message).toMatch(/nests deeper/);
      const wide = await send(JSON.stringify({ model: 'default', prompt: 'x', [field]: field === 'logit_bias' ? Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [i, 1])) : Array.from({ length: 400_000 }, (_, i) => i) }));
      const wideText = await wide.text();
      expect(wide.status, wideText.slice(0, 300)).toBe(400);
      expect(JSON.parse(wideText).error.param).toBe(field);
      expect(wideText.length).toBeLessThan(400);
    }
  });

  it('a 3.9 MB string is echoed cut to ~100 characters', async () => {
    const app = createApp({ model } as AppOptions);
    for (const body of [{ model: 'm'.repeat(3_900_000), prompt: 'x' }, { model: 'default', prompt: 'x', temperature: 't'.repeat(3_900_000) }, { model: 'default', prompt: 'x', ['k'.repeat(3_900_000)]: 1 }]) {
      const r = await app.fetch(new Request('http://127.0.0.1/v1/completions', { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) }));
      const text = await r.text();
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(text.length).toBeLessThan(600);
    }
    const big = await app.fetch(new Request('http://127.0.0.1/v1/completions', { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ model: 'default', prompt: 'x'.repeat(5_000_000) }) }));
    expect(big.status).toBe(413);
    {
    }
  });

  it('the prompt cap is counted in tokens once encoded too', async () => {
    const app = createApp({ model, maxPromptLength: 100 } as AppOptions);
    const text = '東京'.repeat(40); // 80 characters, more than 100 tokens
    expect(model.tokenizer!.encode(text).length).toBeGreaterThan(100);
    const r = await post(app, { prompt: text, max_tokens: 1 });
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatchObject({ param: 'prompt', message: expect.stringMatching(/tokens long/) });
    expect((await post(app, { prompt: 'The king', max_tokens: 1 })).status).toBe(200);
  });
});

describe('6. prompts encoded in a worker with a time budget', () => {
  const hanging = pathToFileURL(join(import.meta.dirname, 'hang-tokenizer.mjs')).href;

  it('a prompt that hangs the tokenizer is a 400 after the budget; the thread stays free; the next prompt is encoded', { timeout: 20_000 }, async () => {
    const encoder = new WorkerEncoder({ tokenizerJson: '{}', library: hanging, budgetMs: 500 });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 50);
      const t0 = performance.now();
      const hung = await encoder.encode('hang here', new AbortController().signal).catch((e) => e);
      clearInterval(timer);
      expect(hung).toMatchObject({ status: 400, code: 'tokenize_timeout', param: 'prompt' });
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(ticks).toBeGreaterThan(3); // this thread ran its timers meanwhile (a SIGTERM handler would run too)
      expect(await encoder.encode('ok', new AbortController().signal)).toEqual([111, 107]);
    } finally {
      await encoder.close();
    }
  });

  it('the real tokenizer in the worker gives the ids the model gives', { timeout: 20_000 }, async () => {
    const { readBimambaFileHeader } = await import('../../src/format/bimamba.js');
    const { header } = await readBimambaFileHeader(DEFAULT_MODEL);
    const library = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'index.js')).href;
    const encoder = new WorkerEncoder({ tokenizerJson: header.tokenizerJson, library, budgetMs: 5000 });
    try {
      const text = 'Once upon a time, 東京 and ünïcödé';
      expect(await encoder.encode(text, new AbortController().signal)).toEqual(model.tokenizer!.encode(text));
    } finally {
      await encoder.close();
    }
  });
});

describe('one error table', () => {
  it("maps each error kind to its status, type and param (a BAD_ARGUMENT is not always the prompt's)", () => {
    expect(apiErrorOf(new BimambaError('BAD_ARGUMENT', 'bad stop'))).toMatchObject({ status: 400, param: null, type: 'invalid_request_error' });
    expect(apiErrorOf(new BimambaError('BAD_TOKEN', 'id 99999'))).toMatchObject({ status: 400, param: 'prompt' });
    expect(apiErrorOf(new BimambaError('BAD_FORMAT', 'x'))).toMatchObject({ status: 409, param: 'session' });
    expect(apiErrorOf(new BimambaError('CONFLICT', 'x'))).toMatchObject({ status: 409, code: 'session_conflict' });
    expect(apiErrorOf(new BimambaError('OUT_OF_MEMORY', 'x'))).toMatchObject({ status: 503, type: 'server_error' });
    // found by the fuzzer: a text prompt to a model without a tokenizer was a 500
    expect(apiErrorOf(new BimambaError('UNSUPPORTED', 'this model file has no tokenizer'))).toMatchObject({ status: 400, type: 'invalid_request_error' });
    const quiet = console.error;
    console.error = () => {};
    try {
      expect(apiErrorOf(new Error('/secret'))).toMatchObject({ status: 500, message: 'internal error' });
    } finally {
      console.error = quiet;
    }
  });
});
