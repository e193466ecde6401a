// The app in this process (app.fetch, and Node's HTTP server for disconnects): admission and the 503,
// a client that goes away, concurrent sessions kept apart, and the stores under attacker-chosen names.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel, type GenerateOptions, type Model } from '../../src/index.js';
import { Session } from '../../src/model/session.js';
import { createApp, type AppOptions } from '../../src/server/app.js';
import { DirectoryStore } from '../../src/server/directory-store.js';
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

const post = async (app: ReturnType<typeof createApp>, body: Record<string, unknown>, init: RequestInit = {}): Promise<Response> =>
  app.fetch(new Request('http://local/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'default', ...body }), ...init }));
const health = async (app: ReturnType<typeof createApp>) => (await app.fetch(new Request('http://local/health'))).json() as Promise<{ running: number; waiting: number }>;

/** The library's text for a prompt in a fresh session (greedy unless `options` say otherwise). */
async function libraryText(prompt: string, maxTokens: number, options: GenerateOptions = { temperature: 0 }): Promise<string> {
  let text = '';
  for await (const t of model.generate(prompt, { maxTokens, ...options })) text += t.text;
  return text;
}

/** Read a completions event stream to its end: the joined text, whether it ended with [DONE], and when its first bytes came. */
async function readStream(response: Response): Promise<{ text: string; done: boolean; tFirst: number }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let body = '';
  let tFirst = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    tFirst ||= performance.now();
    body += r.value;
  }
  const data = body.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  return { text: chunks.map((c) => c.choices[0]?.text ?? '').join(''), done: data.at(-1) === '[DONE]', tFirst };
}

describe('admission', () => {
  it('runs maxActive at once, queues maxWaiting, answers 503 with Retry-After past that', async () => {
    const app = createApp({ model, maxActive: 1, maxWaiting: 1 } as AppOptions);
    const a = await post(app, { prompt: 'The king', max_tokens: 4000, temperature: 0, stream: true });
    expect(a.status).toBe(200); // holds the one turn while its stream is open
    const b = post(app, { prompt: 'The queen', max_tokens: 8, temperature: 0 }); // waits
    await new Promise((r) => setTimeout(r, 50));
    expect(await health(app)).toMatchObject({ running: 1, waiting: 1 });
    const c = await post(app, { prompt: 'The prince', max_tokens: 8, temperature: 0 });
    expect(c.status).toBe(503);
    expect(c.headers.get('retry-after')).toBe('1');
    expect((await c.json()).error.code).toBe('busy');
    await a.body!.cancel(); // the first client leaves: its turn goes to the waiting one
    const rb = await b;
    expect(rb.status).toBe(200);
    expect((await rb.json()).choices[0].text).toBe(await libraryText('The queen', 8));
    expect(await health(app)).toMatchObject({ running: 0, waiting: 0 });
  });

  it('drops a waiting request whose client goes away', async () => {
    const app = createApp({ model, maxActive: 1, maxWaiting: 4 } as AppOptions);
    const a = await post(app, { prompt: 'The king', max_tokens: 4000, temperature: 0, stream: true });
    const gone = new AbortController();
    const b = post(app, { prompt: 'The queen', max_tokens: 8 }, { signal: gone.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect((await health(app)).waiting).toBe(1);
    gone.abort();
    await b;
    expect((await health(app)).waiting).toBe(0);
    await a.body!.cancel();
    expect((await health(app)).running).toBe(0);
  });
});

describe('a client that disconnects mid-stream', () => {
  it('frees its turn at once, over a real HTTP connection', async () => {
    const app = createApp({ model, maxActive: 1, maxWaiting: 1 } as AppOptions);
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${server.port}`;
      // how long a few tokens take here, to know 4000 would take far longer than the wait below
      const t0 = performance.now();
      await libraryText('Once upon a time', 50);
      const msPerToken = (performance.now() - t0) / 50;

      const gone = new AbortController();
      const r = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'default', prompt: 'Once upon a time', max_tokens: 4000, temperature: 0, stream: true }),
        signal: gone.signal,
      });
      const reader = r.body!.getReader();
      await reader.read(); // the first tokens arrived: it is generating
      const state = await fetch(`${url}/health`).then((x) => x.json());
      expect(state.running).toBe(1);
      const tGone = performance.now();
      gone.abort();
      let running = 1;
      while (running > 0 && performance.now() - tGone < 2000) {
        await new Promise((res) => setTimeout(res, 10));
        running = (await fetch(`${url}/health`).then((x) => x.json())).running;
      }
      const freedMs = performance.now() - tGone;
      expect(running).toBe(0);
      expect(freedMs).toBeLessThan(Math.min(2000, 4000 * msPerToken / 4));
      // and the next request gets the turn
      const next = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'default', prompt: 'The queen', max_tokens: 8, temperature: 0 }) });
      expect((await next.json()).choices[0].text).toBe(await libraryText('The queen', 8));
    } finally {
      await server.close();
    }
  });
});

describe('concurrent sessions', () => {
  it('interleave token by token and each gets its solo text', async () => {
    const app = createApp({ model, maxActive: 4 } as AppOptions);
    const prompts = ['The king said', 'And the LORD', 'Once upon a time', 'In the beginning'];
    const solo = await Promise.all(prompts.map((p) => libraryText(p, 40)));
    const results = await Promise.all(
      prompts.map(async (prompt, i) => {
        const r = await readStream(await post(app, { prompt, max_tokens: 40, temperature: 0, stream: true, session: `s${i}` }));
        return { ...r, tEnd: performance.now() };
      }),
    );
    expect(results.map((r) => r.text)).toEqual(solo);
    expect(results.every((r) => r.done)).toBe(true);
    // every stream had its first token before any stream ended: they took turns
    expect(Math.max(...results.map((r) => r.tFirst))).toBeLessThan(Math.min(...results.map((r) => r.tEnd)));
  });

  it('decode in one forward pass per step, and each gets its solo text, greedy or sampled', async () => {
    const app = createApp({ model, maxActive: 8 } as AppOptions);
    const prompts = ['The king said', 'And the LORD', 'Once upon a time', 'In the beginning', 'The queen', 'A man', 'Then', 'It was'];
    const sampled = { temperature: 0.9, seed: 7 };
    const serverDefaults = { topK: 0, topP: 1 }; // the server's, not the library's
    const solo = await Promise.all(prompts.map((p, i) => libraryText(p, 24, i % 2 ? { ...sampled, ...serverDefaults } : { temperature: 0 })));
    const batches = vi.spyOn(Session, 'feedParts');
    try {
      const texts = await Promise.all(prompts.map(async (prompt, i) => {
        const r = await post(app, { prompt, max_tokens: 24, stream: true, ...(i % 2 ? sampled : { temperature: 0 }) });
        return (await readStream(r)).text;
      }));
      expect(texts).toEqual(solo);
      // the steps' decoding tokens: every part of a session but its first, its prompt (one piece here)
      const fed = new Set<Session>();
      const decoding = (p: { session: Session }) => {
        const again = fed.has(p.session);
        fed.add(p.session);
        return again;
      };
      const sizes = batches.mock.calls.map(([parts]) => parts.filter(decoding).length).filter((n) => n > 0);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(8 * 24); // every token fed once
      expect(Math.max(...sizes)).toBe(8); // all streams went through one pass
      expect(sizes.length).toBeLessThan(3 * 24); // and most steps were shared
    } finally {
      batches.mockRestore();
    }
  });

  it('a stream whose client goes away leaves the batch; the others go on with their solo text', async () => {
    const app = createApp({ model, maxActive: 3 } as AppOptions);
    const prompts = ['The king said', 'And the LORD', 'Once upon a time'];
    const solo = await Promise.all(prompts.map((p) => libraryText(p, 30)));
    const gone = new AbortController();
    const responses = await Promise.all(prompts.map((prompt, i) =>
      post(app, { prompt, max_tokens: i === 1 ? 4000 : 30, temperature: 0, stream: true }, i === 1 ? { signal: gone.signal } : {})));
    const reader = responses[1].body!.getReader();
    await reader.read(); // generating, in the batch with the others
    gone.abort();
    await reader.cancel().catch(() => {});
    const [a, c] = await Promise.all([readStream(responses[0]), readStream(responses[2])]);
    expect([a.text, c.text]).toEqual([solo[0], solo[2]]);
    expect(await health(app)).toMatchObject({ running: 0, waiting: 0 });
  });

  it('an aborted stream leaves its session as it was before that request', async () => {
    const store = new MemoryStore();
    const app = createApp({ model, store } as AppOptions);
    const first = await (await post(app, { prompt: 'The king said', max_tokens: 8, temperature: 0, session: 'k' })).json();
    const parked = await store.get(`${model.fingerprint.toString(16).padStart(8, '0')}.k`);
    expect(parked).not.toBeNull();
    const before = parked!.slice();
    const r = await post(app, { prompt: ' unto', max_tokens: 4000, temperature: 0, stream: true, session: 'k' });
    const reader = r.body!.getReader();
    await reader.read();
    await reader.cancel();
    await new Promise((res) => setTimeout(res, 50));
    expect((await health(app)).running).toBe(0);
    const after = await store.get(`${model.fingerprint.toString(16).padStart(8, '0')}.k`);
    expect(Buffer.from(after!).equals(Buffer.from(before))).toBe(true);
    expect(first.choices[0].text).toBe(await libraryText('The king said', 8));
  });
});

describe('a failing store', () => {
  it('gives a 500 without internals and frees the turn', async () => {
    const broken = { get: async () => { throw new Error('disk on fire at /secret/path'); }, set: async () => {}, delete: async () => {} };
    const app = createApp({ model, store: broken, maxActive: 1 } as AppOptions);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...a: unknown[]) => void errors.push(a);
    try {
      const r = await post(app, { prompt: 'The king', max_tokens: 4, session: 'x' });
      expect(r.status).toBe(500);
      const body = await r.text();
      expect(body).not.toMatch(/secret|fire/);
      expect(JSON.parse(body).error.type).toBe('server_error');
    } finally {
      console.error = original;
    }
    expect(String((errors[0] as unknown[])[1])).toMatch(/disk on fire/); // the operator sees it
    expect(await health(app)).toMatchObject({ running: 0, waiting: 0 });
    const ok = await post(app, { prompt: 'The king', max_tokens: 4, temperature: 0 }); // no session: no store
    expect(ok.status).toBe(200);
  });
});

describe('MemoryStore', () => {
  it('drops the least recently used snapshots past its byte cap', async () => {
    const store = new MemoryStore(250);
    const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
    await store.set('a', bytes(100, 1));
    await store.set('b', bytes(100, 2));
    expect((await store.get('a'))![0]).toBe(1); // a is now the most recently used
    await store.set('c', bytes(100, 3)); // 300 > 250: b goes
    expect(await store.get('b')).toBeNull();
    expect((await store.get('a'))![0]).toBe(1);
    expect((await store.get('c'))![0]).toBe(3);
    expect(store.bytes).toBe(200);
    await store.set('a', bytes(50, 4)); // replacing counts the new size only
    expect(store.bytes).toBe(150);
    await expect(store.set('big', bytes(251, 5))).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    await store.delete('c');
    expect(store.size).toBe(1);
  });

  it('a session evicted from a full store starts afresh', async () => {
    const snapshotBytes = model.createSession().snapshot().length;
    const store = new MemoryStore(snapshotBytes + 10); // room for one parked session
    const app = createApp({ model, store } as AppOptions);
    await post(app, { prompt: 'The king said', max_tokens: 4, temperature: 0, session: 'one' });
    await post(app, { prompt: 'The queen said', max_tokens: 4, temperature: 0, session: 'two' }); // evicts 'one'
    const r = await (await post(app, { prompt: 'And the LORD', max_tokens: 8, temperature: 0, session: 'one' })).json();
    expect(r.choices[0].text).toBe(await libraryText('And the LORD', 8));
  });
});

describe('DirectoryStore', () => {
  const root = join(OUT, 'server', 'directory-store');
  it('keeps every key inside its directory and refuses names that could leave it', async () => {
    rmSync(root, { recursive: true, force: true });
    const dir = join(root, 'inner');
    const store = new DirectoryStore(dir);
    for (const key of ['../x', '..', '.hidden', 'a/b', 'a\\b', '', 'x'.repeat(201), 'nul\0', '/etc/passwd']) {
      await expect(store.set(key, new Uint8Array(4)), key).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
      await expect(store.get(key), key).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    }
    await store.set('ok.name-1', new Uint8Array([1, 2, 3]));
    expect(Array.from((await store.get('ok.name-1'))!)).toEqual([1, 2, 3]);
    expect(await store.get('missing')).toBeNull();
    expect(readdirSync(dir)).toEqual(['ok.name-1.bmss']); // no temporary file left
    expect(readdirSync(root)).toEqual(['inner']);
    await store.delete('ok.name-1');
    await store.delete('ok.name-1');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a session name that could escape is refused by the app before any store sees it', async () => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const app = createApp({ model, store: new DirectoryStore(join(root, 'sessions')) } as AppOptions);
    for (const session of ['../escape', '.x', 'a/b', 'x'.repeat(129)]) {
      const r = await post(app, { prompt: 'x', max_tokens: 1, session });
      expect(r.status).toBe(400);
      expect((await r.json()).error.param).toBe('session');
      const h = await post(app, { prompt: 'x', max_tokens: 1 }, { headers: { 'content-type': 'application/json', 'bimamba-session': session } });
      expect(h.status).toBe(400);
    }
    expect(existsSync(join(root, 'sessions'))).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});
