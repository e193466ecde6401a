// Cloudflare's workerd runs the Worker example (examples/worker) for real: the WASM core is imported
// as a precompiled module, the model as a Data module, and a real HTTP request on loopback streams the
// tokens back as server-sent events. They must equal Node's. The isolate's memory with the built-in
// model is measured too and must fit the 128 MB Workers limit.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, need, run, shouldRun, startService, waitForPort, workerdBinary, type Service } from './hosts.js';
import { bundleChunks, DIST, MAX_TOKENS, WORKER_DIST, nodeGreedy, OUT, PROMPT, ROOT, tinyModel } from './model.js';

const WORKERD = workerdBinary();
const HOW = 'the workerd dev dependency: npm ci';
const WORKER = join(ROOT, 'examples', 'worker', 'src', 'index.js');
const DEFAULT_MODEL = join(ROOT, 'models', 'default.bimamba');
const MB = 1024 * 1024;

interface Served {
  service: Service;
  port: number;
  inspectorPort: number;
}

/**
 * A workerd config that serves the example Worker on 127.0.0.1:port. The modules are named as a
 * bundler would name them for the example's imports: 'bimamba' (and the chunk it imports),
 * 'bimamba/bimamba.wasm' (a compiled module) and './model.bimamba' (data).
 */
function writeConfig(dir: string, port: number, modelFile: string): string {
  const rel = (path: string) => JSON.stringify(relative(dir, path));
  const chunkModules = bundleChunks(WORKER_DIST, 'index.js').map((name) => `(name = "${name}", esModule = embed ${rel(join(WORKER_DIST, name))}),`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed ${rel(WORKER)}),
    (name = "bimamba", esModule = embed ${rel(join(WORKER_DIST, 'index.js'))}),
    ${chunkModules.join('\n    ')}
    (name = "bimamba/bimamba.wasm", wasm = embed ${rel(join(DIST, 'bimamba.wasm'))}),
    (name = "model.bimamba", data = embed ${rel(modelFile)}),
  ],
  compatibilityDate = "2025-09-01",
);
`;
  const path = join(dir, 'config.capnp');
  writeFileSync(path, config);
  return path;
}

const services: Service[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
});

async function serve(name: string, model: string): Promise<Served> {
  const dir = join(OUT, `workerd-${name}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const inspectorPort = await freePort();
  const config = writeConfig(dir, port, model);
  const service = startService(need('workerd', WORKERD, HOW), ['serve', config, `--inspector-addr=127.0.0.1:${inspectorPort}`], { cwd: dir });
  services.push(service);
  await waitForPort(port, service);
  return { service, port, inspectorPort };
}

interface SseEvent {
  event: string;
  data: any;
}

/** GET the Worker and read its event stream to the end, noting when the first event arrived. */
async function generateOverHttp(port: number, query: string): Promise<{ events: SseEvent[]; contentType: string | null; chunks: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/?${query}`, { signal: AbortSignal.timeout(60_000) });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let chunks = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    chunks++;
  }
  const events = text.trim().split('\n\n').map((block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
    const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
    return { event, data };
  });
  return { events, contentType: response.headers.get('content-type'), chunks };
}

/** The workerd process's resident memory, from /proc (Linux): current and peak, in bytes. */
function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The isolate's V8 heap usage, from workerd's inspector. */
async function heapUsage(inspectorPort: number): Promise<{ usedSize: number; totalSize: number; backingStorageSize?: number; embedderHeapUsedSize?: number }> {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const flags = nodeMajor < 22 ? ['--experimental-websocket'] : [];
  const probe = join(ROOT, 'tests', 'runtimes', 'heap-usage.mjs');
  const r = await run(process.execPath, [...flags, probe, `ws://127.0.0.1:${inspectorPort}/main`], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`heap probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.runIf(shouldRun('workerd', WORKERD, HOW))('Cloudflare workerd', () => {
  it('streams the same greedy tokens as Node, as text/event-stream', async () => {
    const model = join(OUT, 'workerd-tiny', 'model.bimamba');
    mkdirSync(join(OUT, 'workerd-tiny'), { recursive: true });
    copyFileSync(await tinyModel(), model);
    const expected = await nodeGreedy(model);
    const { port, service } = await serve('tiny', model);

    const { events, contentType, chunks } = await generateOverHttp(port, new URLSearchParams({ prompt: PROMPT, n: String(MAX_TOKENS), t: '0' }).toString());
    expect(contentType).toBe('text/event-stream');
    const tokens = events.filter((e) => e.event === 'token').map((e) => e.data);
    expect(events.find((e) => e.event === 'error'), service.output()).toBeUndefined();
    expect(tokens.map((t) => t.token)).toEqual(expected.tokens);
    expect(tokens.map((t) => t.text).join('')).toBe(expected.text);
    expect(events.at(-1)!.event).toBe('done');
    expect(chunks).toBeGreaterThan(0);
  });

  it.runIf(existsSync(DEFAULT_MODEL))('runs the built-in model within the 128 MB isolate limit', async () => {
    const { port, service, inspectorPort } = await serve('default', DEFAULT_MODEL);
    const before = processMemory(service.child.pid!);
    const heapBefore = await heapUsage(inspectorPort);

    const { events, chunks } = await generateOverHttp(port, new URLSearchParams({ prompt: 'Once upon a time', n: '64', t: '0.8' }).toString());
    expect(chunks).toBeGreaterThan(1); // streamed as generated, not one buffered body
    expect(events.find((e) => e.event === 'error'), service.output()).toBeUndefined();
    const tokens = events.filter((e) => e.event === 'token');
    expect(tokens.length).toBeGreaterThan(0);
    const wasmBytes = events.at(-1)!.data.memoryBytes as number;

    const after = processMemory(service.child.pid!);
    const heap = await heapUsage(inspectorPort);
    const isolate = heap.usedSize + (heap.backingStorageSize ?? 0) + wasmBytes;
    const growth = after.peak - before.rss;
    console.log(
      `workerd, built-in model, ${tokens.length} tokens: WASM memory ${(wasmBytes / MB).toFixed(1)} MB, ` +
        `JS heap ${(heap.usedSize / MB).toFixed(1)} MB used (${(heapBefore.usedSize / MB).toFixed(1)} MB before), ` +
        `array buffers ${((heap.backingStorageSize ?? 0) / MB).toFixed(1)} MB; isolate total ${(isolate / MB).toFixed(1)} MB; ` +
        `process peak RSS ${(after.peak / MB).toFixed(1)} MB, ${(growth / MB).toFixed(1)} MB over idle`,
    );
    expect(isolate).toBeLessThan(128 * MB);
    expect(growth).toBeLessThan(128 * MB);
  });
});
