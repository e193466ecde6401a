// The same app in Deno, Bun and Cloudflare's workerd (examples/server): each answers the openai client,
// streaming and not, with the library's greedy text, continues a named session, and names a bad field.
// (Node runs it as `bimamba serve`: openai.test.ts.)
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bunBinary, denoBinary, freePort, need, shouldRun, startService, waitForPort, workerdBinary, type Service } from '../runtimes/hosts.js';
import { bundleChunks, DIST, OUT, ROOT, WORKER_DIST } from '../runtimes/model.js';
import { client, DEFAULT_MODEL, libraryConversation, waitForLine } from './serve.js';

const EXAMPLES = join(ROOT, 'examples', 'server');

/** workerd modules named as a bundler resolves the example's imports, every dist/ file once. */
function writeWorkerdConfig(dir: string, port: number): string {
  const rel = (path: string) => JSON.stringify(relative(dir, path));
  copyFileSync(DEFAULT_MODEL, join(dir, 'model.bimamba'));
  // 'bimamba' and 'bimamba/server' re-export dist/ files named bimamba/*.js, so that the chunks both
  // import ('./generate.js' ...) resolve to one module each (workerd resolves names against the importer's)
  writeFileSync(join(dir, 'bimamba.js'), "export * from './bimamba/index.js';\n");
  writeFileSync(join(dir, 'bimamba-server.js'), "export * from './server.js';\n");
  const dist = ['index.js', 'server.js', ...bundleChunks(WORKER_DIST, 'index.js', 'server.js')].map((name) => `(name = "bimamba/${name}", esModule = embed ${rel(join(WORKER_DIST, name))}),`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed ${rel(join(EXAMPLES, 'worker', 'src', 'index.js'))}),
    (name = "bimamba", esModule = embed "bimamba.js"),
    (name = "bimamba/server", esModule = embed "bimamba-server.js"),
    ${dist.join('\n    ')}
    (name = "bimamba/bimamba.wasm", wasm = embed ${rel(join(DIST, 'bimamba.wasm'))}),
    (name = "model.bimamba", data = embed "model.bimamba"),
  ],
  compatibilityDate = "2025-09-01",
);
`;
  writeFileSync(join(dir, 'config.capnp'), config);
  return join(dir, 'config.capnp');
}

interface Host {
  name: string;
  binary: string | null;
  how: string;
  start(binary: string, port: number): Service;
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
    start: (workerd, port) => {
      const dir = join(OUT, 'server', 'workerd');
      mkdirSync(dir, { recursive: true });
      return startService(workerd, ['serve', writeWorkerdConfig(dir, port)], { cwd: dir });
    },
  },
];

const TURNS = [
  { prompt: 'Once upon a time', maxTokens: 16 },
  { prompt: ' The end', maxTokens: 12 },
];

describe.each(HOSTS)('$name', (host) => {
  let service: Service;
  let openai: OpenAI;
  let expected: string[];
  beforeAll(async () => {
    if (!shouldRun(host.name, host.binary, host.how)) return;
    expected = await libraryConversation(DEFAULT_MODEL, TURNS);
    const port = await freePort();
    service = host.start(need(host.name, host.binary, host.how), port);
    if (host.name === 'workerd') {
      await waitForPort(port, service);
    } else {
      await waitForLine(service, /listening on http:\/\/127\.0\.0\.1:\d+/);
    }
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

  it.runIf(shouldRun(host.name, host.binary, host.how))('names a bad field in a 400', async () => {
    const e = await openai.completions.create({ model: 'default', prompt: 'x', top_p: 2 }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.error.param).toBe('top_p');
  });
});
