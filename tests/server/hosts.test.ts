// The same app in Deno, Bun and Cloudflare's workerd (examples/server): each answers the openai client,
// streaming and not, with the library's greedy text, continues a named session, and names a bad field.
// In workerd the sessions are parked in Durable Objects on a local disk: they outlive a restart, and the
// store refuses a write over a session changed since it was read. (Node runs it as `bimamba serve`:
// openai.test.ts.)
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bunBinary, denoBinary, freePort, need, shouldRun, startService, waitForPort, workerdBinary, type Service } from '../runtimes/hosts.js';
import { bundleChunks, DIST, OUT, ROOT, WORKER_DIST } from '../runtimes/model.js';
import { client, DEFAULT_MODEL, libraryChat, libraryConversation, waitForLine } from './serve.js';

const EXAMPLES = join(ROOT, 'examples', 'server');

/**
 * A worker beside the example that drives its DurableObjectStore over the same Durable Object namespace
 * (GET /store-check): writes over a changed session are refused, big snapshots round-trip in chunks, a
 * session is forgotten its TTL after its last write.
 */
const STORE_CHECK = `import { DurableObjectStore } from './session-object.js';
const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const same = (a, b) => a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
const codeOf = (p) => p.then(() => 'written', (e) => e.code ?? String(e));
export default {
  async fetch(request, env) {
    const one = new DurableObjectStore(env.SESSIONS), two = new DurableObjectStore(env.SESSIONS);
    const r = {};
    await one.delete('check');
    r.newWrite = await codeOf(one.set('check', bytes(10, 1), null));
    r.secondNewWrite = await codeOf(two.set('check', bytes(10, 2), null));
    const [readByOne, readByTwo] = [await one.get('check'), await two.get('check')];
    r.read = same(readByTwo, bytes(10, 1));
    r.writeOverRead = await codeOf(two.set('check', bytes(10, 3), readByTwo));
    r.writeOverChanged = await codeOf(one.set('check', bytes(10, 4), readByOne));
    r.kept = same(await one.get('check'), bytes(10, 3));
    const big = bytes(17 * 1024 * 1024 + 5, 5); // 137 chunks: more keys than one storage call takes
    await one.set('check', big);
    r.big = same(await two.get('check'), big);
    await one.set('check', bytes(3, 6));
    r.shrunk = same(await two.get('check'), bytes(3, 6));
    await one.delete('check');
    r.deleted = (await one.get('check')) === null;
    const brief = new DurableObjectStore(env.SESSIONS, { ttlSeconds: 1 });
    await brief.set('ttl-check', bytes(10, 7));
    r.keptWithinTtl = same(await brief.get('ttl-check'), bytes(10, 7));
    await new Promise((done) => setTimeout(done, 1300));
    r.forgottenAfterTtl = (await brief.get('ttl-check')) === null;
    r.badTtl = await codeOf(Promise.resolve().then(() => new DurableObjectStore(env.SESSIONS, { ttlSeconds: 0 })));
    return Response.json(r);
  },
};
`;

/** workerd modules named as a bundler resolves the example's imports, every dist/ file once. */
function writeWorkerdConfig(dir: string, port: number, checkPort: number): string {
  const rel = (path: string) => JSON.stringify(relative(dir, path));
  const sessionObject = `(name = "session-object.js", esModule = embed ${rel(join(EXAMPLES, 'worker', 'src', 'session-object.js'))}),`;
  writeFileSync(join(dir, 'store-check.js'), STORE_CHECK);
  mkdirSync(join(dir, 'durable-objects'), { recursive: true }); // kept across restarts
  copyFileSync(DEFAULT_MODEL, join(dir, 'model.bimamba'));
  // 'bimamba' and 'bimamba/server' re-export dist/ files named bimamba/*.js, so that the chunks both
  // import ('./generate.js' ...) resolve to one module each (workerd resolves names against the importer's)
  writeFileSync(join(dir, 'bimamba.js'), "export * from './bimamba/index.js';\n");
  writeFileSync(join(dir, 'bimamba-server.js'), "export * from './server.js';\n");
  const dist = ['index.js', 'server.js', ...bundleChunks(WORKER_DIST, 'index.js', 'server.js')].map((name) => `(name = "bimamba/${name}", esModule = embed ${rel(join(WORKER_DIST, name))}),`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "store-check", worker = .storeCheck),
    (name = "durable-objects", disk = (path = "durable-objects", writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    (name = "store-check", address = "127.0.0.1:${checkPort}", http = (), service = "store-check"),
  ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed ${rel(join(EXAMPLES, 'worker', 'src', 'index.js'))}),
    ${sessionObject}
    (name = "bimamba", esModule = embed "bimamba.js"),
    (name = "bimamba/server", esModule = embed "bimamba-server.js"),
    ${dist.join('\n    ')}
    (name = "bimamba/bimamba.wasm", wasm = embed ${rel(join(DIST, 'bimamba.wasm'))}),
    (name = "model.bimamba", data = embed "model.bimamba"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [ (name = "SESSIONS", durableObjectNamespace = "SessionObject") ],
  durableObjectNamespaces = [ (className = "SessionObject", uniqueKey = "bimamba-sessions", enableSql = true) ],
  durableObjectStorage = (localDisk = "durable-objects"),
);
const storeCheck :Workerd.Worker = (
  modules = [
    (name = "store-check.js", esModule = embed "store-check.js"),
    ${sessionObject}
    (name = "bimamba", esModule = embed "bimamba.js"),
    ${dist.join('\n    ')}
  ],
  compatibilityDate = "2025-09-01",
  bindings = [ (name = "SESSIONS", durableObjectNamespace = (serviceName = "main", className = "SessionObject")) ],
);
`;
  writeFileSync(join(dir, 'config.capnp'), config);
  return join(dir, 'config.capnp');
}

interface Host {
  name: string;
  binary: string | null;
  how: string;
  /** `checkPort`: where workerd serves the store check beside the example. */
  start(binary: string, port: number, checkPort: number): Service;
}

const HOSTS: Host[] = [
  {
    name: 'Deno',
    binary: denoBinary(),
    how: 'the deno dev dependency: npm ci',
    start: (deno, port) => startService(deno, ['run', '--allow-read', '--allow-net=127.0.0.1', 'deno.ts', DEFAULT_MODEL, String(port)], { cwd: EXAMPLES }),
  },
  {
    name: 'Bun',
    binary: bunBinary(),
    how: 'the bun dev dependency: npm ci',
    start: (bun, port) => startService(bun, ['bun.ts', DEFAULT_MODEL, String(port)], { cwd: EXAMPLES }),
  },
  {
    name: 'workerd',
    binary: workerdBinary(),
    how: 'the workerd dev dependency: npm ci',
    start: (workerd, port, checkPort) => {
      const dir = join(OUT, 'server', 'workerd');
      mkdirSync(dir, { recursive: true });
      return startService(workerd, ['serve', writeWorkerdConfig(dir, port, checkPort)], { cwd: dir });
    },
  },
];

const CHAT = [{ role: 'user' as const, content: 'Tell me about the old king.' }];
const EMBED_TEXT = 'The king had three sons.';

const TURNS = [
  { prompt: 'Once upon a time', maxTokens: 16 },
  { prompt: ' The end', maxTokens: 12 },
];

describe.each(HOSTS)('$name', (host) => {
  let service: Service;
  let openai: OpenAI;
  let expected: string[];
  let chat: { reply: string; embedding: Float32Array };
  let port: number;
  let checkPort: number;
  const start = async () => {
    service = host.start(need(host.name, host.binary, host.how), port, checkPort);
    if (host.name === 'workerd') {
      await waitForPort(port, service);
    } else {
      await waitForLine(service, /listening on http:\/\/127\.0\.0\.1:\d+/);
    }
  };
  beforeAll(async () => {
    if (!shouldRun(host.name, host.binary, host.how)) return;
    expected = await libraryConversation(DEFAULT_MODEL, TURNS);
    chat = await libraryChat(DEFAULT_MODEL, CHAT, 12, EMBED_TEXT);
    [port, checkPort] = [await freePort(), await freePort()];
    rmSync(join(OUT, 'server', 'workerd'), { recursive: true, force: true }); // no Durable Object left from an earlier run
    await start();
    openai = client(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it.runIf(shouldRun(host.name, host.binary, host.how))('answers the openai client with the library greedy text, streaming and not', async () => {
    const r = await openai.completions.create({ model: 'default', prompt: TURNS[0].prompt, max_tokens: 16, temperature: 0 });
    expect(r.choices[0].text, service.output()).toBe(expected[0]);
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage!.completion_tokens).toBe(16);
    const stream = await openai.completions.create({ model: 'default', prompt: TURNS[0].prompt, max_tokens: 16, temperature: 0, stream: true });
    const texts: string[] = [];
    for await (const chunk of stream) texts.push(chunk.choices[0]?.text ?? '');
    expect(texts.length).toBeGreaterThan(8);
    expect(texts.join('')).toBe(expected[0]);
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual(['default']);
  });

  it.runIf(shouldRun(host.name, host.binary, host.how))('continues a named session as one unparked library session', async () => {
    const got: string[] = [];
    for (const turn of TURNS) {
      const r = await openai.completions.create({ model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, session: `${host.name}-1` } as OpenAI.CompletionCreateParamsNonStreaming);
      got.push(r.choices[0].text);
    }
    expect(got).toEqual(expected);
  });

  it.runIf(shouldRun(host.name, host.binary, host.how))('answers chat.completions (streamed and not) and embeddings with the library results', async () => {
    const r = await openai.chat.completions.create({ model: 'default', messages: CHAT, max_tokens: 12, temperature: 0 });
    expect(r.choices[0].message.content, service.output()).toBe(chat.reply);
    const stream = await openai.chat.completions.create({ model: 'default', messages: CHAT, max_tokens: 12, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(chat.reply);
    const e = await openai.embeddings.create({ model: 'default', input: [EMBED_TEXT] });
    const got = e.data[0].embedding;
    expect(got).toHaveLength(chat.embedding.length);
    expect(Math.max(...got.map((x, i) => Math.abs(x - chat.embedding[i])))).toBeLessThan(1e-5);
  });

  it.runIf(shouldRun(host.name, host.binary, host.how))('names a bad field in a 400', async () => {
    const e = await openai.completions.create({ model: 'default', prompt: 'x', top_p: 2 }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.error.param).toBe('top_p');
  });

  // (workerd hands the isolate these requests one after another here: 25 sent at once all pass a gate of 2 + 16)
  it.runIf(host.name !== 'workerd' && shouldRun(host.name, host.binary, host.how))('the per-client caps apply: the example passes the client address to the app', async () => {
    // 10 at once from one address: past its running and waiting share (at most 2 + 4 here) the app answers 503
    // naming this client; without an address only the global caps (20 and more) would count
    const headers = { 'content-type': 'application/json' };
    const body = JSON.stringify({ model: 'default', prompt: TURNS[0].prompt, max_tokens: 200, temperature: 0 });
    const answers = await Promise.all(Array.from({ length: 10 }, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/v1/completions`, { method: 'POST', headers, body });
      return { status: r.status, text: await r.text() };
    }));
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length, JSON.stringify(answers.map((a) => a.status))).toBeGreaterThan(0);
    expect(refused[0].text).toMatch(/this client/);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  });

  if (host.name !== 'workerd') return; // the Worker example's own store

  it.runIf(shouldRun(host.name, host.binary, host.how))('parks sessions in Durable Objects that outlive a restart of workerd', async () => {
    const ask = (turn: { prompt: string; maxTokens: number }) =>
      openai.completions.create({ model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, session: 'durable' } as OpenAI.CompletionCreateParamsNonStreaming);
    const first = await ask(TURNS[0]);
    await service.stop(); // the isolate and its memory are gone; the objects' storage stays on disk
    await start();
    const second = await ask(TURNS[1]);
    expect([first.choices[0].text, second.choices[0].text]).toEqual(expected);
  });

  it.runIf(shouldRun(host.name, host.binary, host.how))('its Durable Object store refuses a write over a session changed since it was read, and forgets a session after its TTL', async () => {
    const r = await fetch(`http://127.0.0.1:${checkPort}/store-check`);
    expect(await r.json(), service.output()).toEqual({
      newWrite: 'written', secondNewWrite: 'CONFLICT', read: true, writeOverRead: 'written', writeOverChanged: 'CONFLICT',
      kept: true, big: true, shrunk: true, deleted: true, keptWithinTtl: true, forgottenAfterTtl: true, badTtl: 'BAD_ARGUMENT',
    });
  });
});
