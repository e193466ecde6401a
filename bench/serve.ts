// Load test of `bimamba serve`: `npm run bench:serve [-- --streams 1,4,16] [--tokens 32] [--threads N] [--model FILE]`.
// Starts the built CLI on 127.0.0.1 (a free port) with the synthetic Bi-Mamba 780M (tests/util/synthetic-model.ts,
// cached in .cache/bench) unless --model is given, then for each stream count sends that many streaming
// completions at once with the `openai` client, each its own prompt (token ids), greedy, --tokens long.
// Reports aggregate tokens/s (all streams' tokens over the wall time), time to first token p50/p99 and
// the server's peak RSS; checks that every stream's tokens (their logprobs, token by token) equal the
// same prompt served alone. Bounded: at most 64 streams, 256 tokens, 10 minutes. Prints the machine's
// load average before and after: on a shared machine the figures only mean something next to it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { ensureSyntheticModel, MODELS } from '../tests/util/synthetic-model.js';

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const streamCounts = (option('--streams') ?? '1,4,16').split(',').map(Number);
const tokens = Number(option('--tokens') ?? 32);
const promptTokens = Number(option('--prompt-tokens') ?? 16);
const threads = option('--threads') ?? 'auto';
if (!streamCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 64) || !(tokens >= 1 && tokens <= 256)) {
  throw new Error('--streams: integers in [1, 64]; --tokens: in [1, 256]');
}
const root = fileURLToPath(new URL('..', import.meta.url));
setTimeout(() => {
  console.error('bench:serve: over 10 minutes, stopping');
  process.exit(1);
}, 600_000).unref();

let model = option('--model');
if (!model) {
  model = `${root}.cache/bench/bimamba-780m.bimamba`;
  await ensureSyntheticModel(MODELS['bimamba-780m'], model, (m) => console.log(`  ${m}`));
}

const maxStreams = Math.max(...streamCounts);
const server = spawn(process.execPath, [`${root}dist/cli.js`, 'serve', '--model', model, '--name', 'bench', '--port', '0', '--threads', threads,
  '--max-active', String(maxStreams), '--max-waiting', String(maxStreams), '--no-verify',
  // every stream comes from this one address: the per-client caps must not hold them back
  '--max-active-per-client', String(maxStreams), '--max-waiting-per-client', String(maxStreams)], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const m = /on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
    if (m) resolve(m[1]);
  });
  server.once('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
});
const stopServer = () => server.kill('SIGKILL');
process.on('exit', stopServer);

// The server's resident memory, sampled every 50 ms (Linux /proc).
let peakRss = 0;
const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, rss())), 50);

const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
const vocab = 32000;
const promptOf = (i: number) => Array.from({ length: promptTokens }, (_, t) => 3 + ((i * 7919 + t * 104729) % (vocab - 3)));

interface StreamResult {
  ttftMs: number;
  logprobs: number[];
}

async function stream(i: number): Promise<StreamResult> {
  const t0 = performance.now();
  let ttftMs = 0;
  const logprobs: number[] = [];
  const s = await client.completions.create({ model: 'bench', prompt: promptOf(i), max_tokens: tokens, temperature: 0, logprobs: 0, stream: true });
  for await (const chunk of s) {
    const lp = chunk.choices[0]?.logprobs?.token_logprobs ?? [];
    if (lp.length && !ttftMs) ttftMs = performance.now() - t0;
    logprobs.push(...lp);
  }
  return { ttftMs, logprobs };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

await stream(maxStreams + 1); // warm-up
const solo: number[][] = [];
for (let i = 0; i < maxStreams; i++) solo.push((await stream(i)).logprobs);

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');
console.log(`\nbimamba serve load test: ${model.split('/').pop()}, ${promptTokens}-token prompts, ${tokens} greedy tokens per stream, threads ${threads}`);
console.log(`${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load average (1 / 5 / 15 min) before: ${load()}\n`);
console.log('| streams | aggregate tok/s | per stream tok/s | TTFT p50 ms | TTFT p99 ms | peak RSS MB | same tokens as alone |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const n of streamCounts) {
  peakRss = rss();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => stream(i)));
  const wall = (performance.now() - t0) / 1000;
  const total = results.reduce((a, r) => a + r.logprobs.length, 0);
  const same = results.every((r, i) => JSON.stringify(r.logprobs) === JSON.stringify(solo[i]));
  const ttft = results.map((r) => r.ttftMs);
  console.log(`| ${n} | ${(total / wall).toFixed(1)} | ${(total / wall / n).toFixed(1)} | ${percentile(ttft, 50).toFixed(0)} | ${percentile(ttft, 99).toFixed(0)} | ${(peakRss / 2 ** 20).toFixed(0)} | ${same ? 'yes' : 'NO'} |`);
  if (!same) process.exitCode = 1;
}
console.log(`\nload average after: ${load()}`);
clearInterval(sampler);
stopServer();
