// The Worker example (examples/worker) as its users run it: `wrangler dev` (local mode, 127.0.0.1 only,
// no login, no telemetry, nothing fetched) must stream Node's greedy tokens, and `wrangler deploy
// --dry-run` bundles it through the `workerd` export condition without a single nodejs_compat warning
// and says what would be uploaded: with the built-in model that is over the free plan's 3 MB. The server
// Worker (examples/server/worker) under `wrangler dev` parks a session in a Durable Object (wrangler's
// local simulation, kept on disk) that a restarted `wrangler dev` continues as one unparked session.
// wrangler needs Node >= 22.12: this Node if it is new enough, else Node 22 from the npm package `node`.
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, run, shouldRun, startService, waitForPort, type Service } from './hosts.js';
import { MAX_TOKENS, nodeGreedy, OUT, PROMPT, ROOT, tinyModel } from './model.js';
import { client, libraryConversation } from '../server/serve.js';

const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const EXAMPLE = join(ROOT, 'examples', 'worker');
const SERVER_EXAMPLE = join(ROOT, 'examples', 'server', 'worker');
const DEFAULT_MODEL = join(ROOT, 'models', 'default.bimamba');
const NODE_22 = '22.23.3'; // the version .ci/run pins
const KB = 1024;
const MB = 1000 * 1000;
const FREE_PLAN = 3 * MB; // Cloudflare's Worker size limits, after compression
const PAID_PLAN = 10 * MB;

/** A Node that runs wrangler: this one from 22.12 on, else the `node` package's Node 22 (through npx). */
async function wranglerNode(): Promise<string> {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return process.execPath;
  const r = await run('npx', ['-y', `node@${NODE_22}`, '-p', 'process.execPath'], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`npx node@${NODE_22} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Everything wrangler writes (state, logs, its config) stays in `dir`; nothing is sent anywhere. */
function offlineEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false', // the Request.cf placeholder, not workers.cloudflare.com/cf.json
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    CI: 'true', // no interactive prompts
    NO_COLOR: '1',
  };
}

/**
 * The example copied into tests/out with `model` as src/model.bimamba, and the package installed beside
 * it as a user's node_modules/bimamba (a link to this checkout), so wrangler resolves 'bimamba' by name.
 */
function project(name: string, model: string, example = EXAMPLE): string {
  const dir = join(OUT, `wrangler-${name}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(example, dir, { recursive: true });
  copyFileSync(model, join(dir, 'src', 'model.bimamba'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'bimamba'), 'dir');
  return dir;
}

let node: string;
const services: Service[] = [];
beforeAll(async () => {
  node = await wranglerNode();
}, 200_000);
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
});

/** `wrangler deploy --dry-run`: what it prints and the sizes it reports, in bytes. */
async function dryRun(dir: string): Promise<{ output: string; total: number; gzip: number }> {
  const r = await run(node, [WRANGLER, 'deploy', '--dry-run', '--outdir', 'bundle'], { cwd: dir, env: offlineEnv(dir), timeoutMs: 120_000 });
  const output = r.stdout + r.stderr;
  expect(r.code, output).toBe(0);
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
  expect(m, output).not.toBeNull();
  return { output, total: Number(m![1]) * KB, gzip: Number(m![2]) * KB };
}

/** `wrangler dev` of the project in `dir`, offline on 127.0.0.1:port (local state kept in dir/.wrangler). */
async function wranglerDev(dir: string, port: number): Promise<Service> {
  const args = [WRANGLER, 'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--show-interactive-dev-session=false'];
  const service = startService(node, args, { cwd: dir, env: offlineEnv(dir), group: true });
  services.push(service);
  await waitForPort(port, service, 90_000);
  return service;
}

/** Wait until `url` answers 200: wrangler dev opens its port before the Worker behind it is ready. */
async function answering(url: string, service: Service, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(url, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > end) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${status}):\n${service.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.runIf(shouldRun('wrangler', existsSync(WRANGLER) ? WRANGLER : null, 'the wrangler dev dependency: npm ci'))('wrangler (the Worker example)', () => {
  it('wrangler dev streams the same greedy tokens as Node, offline on 127.0.0.1', async () => {
    const model = await tinyModel();
    const expected = await nodeGreedy(model);
    const dir = project('dev', model);
    const port = await freePort();
    const service = await wranglerDev(dir, port);

    const query = new URLSearchParams({ prompt: PROMPT, n: String(MAX_TOKENS), t: '0' });
    const response = await fetch(`http://127.0.0.1:${port}/?${query}`, { signal: AbortSignal.timeout(60_000) });
    expect(response.status, service.output()).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = (await response.text()).trim().split('\n\n').map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1],
      data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null'),
    }));
    expect(events.find((e) => e.event === 'error'), service.output()).toBeUndefined();
    const tokens = events.filter((e) => e.event === 'token').map((e) => e.data);
    expect(tokens.map((t) => t.token)).toEqual(expected.tokens);
    expect(tokens.map((t) => t.text).join('')).toBe(expected.text);
    expect(events.at(-1)!.event).toBe('done');
    expect(service.output()).not.toMatch(/nodejs_compat|ENOTFOUND/);
    await service.stop();
  }, 240_000);

  it.runIf(existsSync(DEFAULT_MODEL))('the server Worker parks a session in a Durable Object that a restarted wrangler dev continues', async () => {
    const turns = [
      { prompt: 'Once upon a time', maxTokens: 12 },
      { prompt: ' The end', maxTokens: 12 },
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const dir = project('dev-server', DEFAULT_MODEL, SERVER_EXAMPLE);
    const port = await freePort();
    const texts: string[] = [];
    for (const turn of turns) {
      const service = await wranglerDev(dir, port); // a fresh wrangler dev per turn: only the Durable Object's storage carries the session
      await answering(`http://127.0.0.1:${port}/health`, service);
      const r = await client(`http://127.0.0.1:${port}`).completions.create({
        model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, session: 'parked',
      } as OpenAI.CompletionCreateParamsNonStreaming);
      texts.push(r.choices[0].text);
      expect(service.output()).not.toMatch(/nodejs_compat|ENOTFOUND/);
      await service.stop();
    }
    expect(texts).toEqual(expected);
  }, 300_000);

  it.runIf(existsSync(DEFAULT_MODEL))('bundles without nodejs_compat warnings; the upload needs the paid plan with the built-in model', async () => {
    const dir = project('deploy', DEFAULT_MODEL);
    const { output, total, gzip } = await dryRun(dir);
    expect(output).not.toMatch(/nodejs_compat|WARNING/);
    const modelGzip = gzipSync(readFileSync(DEFAULT_MODEL)).length;
    const ours = gzip - modelGzip; // the bundled JS and the WASM core
    console.log(
      `wrangler deploy --dry-run, built-in model: ${(total / MB).toFixed(2)} MB, ${(gzip / MB).toFixed(2)} MB gzip ` +
        `(the model ${(statSync(DEFAULT_MODEL).size / MB).toFixed(2)} MB, ${(modelGzip / MB).toFixed(2)} MB gzip; code and WASM ${(ours / KB).toFixed(0)} KiB gzip)`,
    );
    expect(ours).toBeLessThan(160 * KB); // what is ours besides the model stays small (124 KiB with chat templates and grammars)
    expect(modelGzip).toBeGreaterThan(FREE_PLAN); // the model alone is over the free plan: the README says so
    expect(gzip).toBeLessThan(PAID_PLAN);
  }, 180_000);

  it('with a small model the same Worker fits the free plan', async () => {
    const { gzip } = await dryRun(project('deploy-tiny', await tinyModel()));
    expect(gzip).toBeLessThan(FREE_PLAN);
  }, 180_000);

  it('the server Worker (examples/server/worker, bimamba/server) bundles without nodejs_compat warnings too', async () => {
    const { output } = await dryRun(project('deploy-server', await tinyModel(), SERVER_EXAMPLE));
    expect(output).not.toMatch(/nodejs_compat|WARNING/);
  }, 180_000);
});
