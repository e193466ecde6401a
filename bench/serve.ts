// Load test of `bimamba serve`: `npm run bench:serve [-- --streams 1,4,16] [--tokens 32] [--threads N] [--model FILE]`.
// Starts the built CLI on 127.0.0.1 (a free port) with the synthetic Bi-Mamba 780M (tests/util/synthetic-model.ts,
// cached in .cache/bench) unless --model is given, then for each stream count sends that many streaming
// completions at once with the `openai` client, each its own prompt (token ids), greedy, --tokens long.
// Reports aggregate tokens/s (all streams' tokens over the wall time), time to first token p50/p99, the
// same two in the server's CPU time (tokens per CPU second, CPU ms to the first token: what a shared
// machine's other jobs do not inflate) and the server's peak RSS; checks that every stream's tokens (their logprobs, token by token) equal the
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
// The server's CPU time so far, in ms (utime + stime of /proc/PID/stat, in clock ticks of 10 ms): on a
// shared machine the wall clock also counts the time other jobs held the cores, the server's CPU time does not.
const cpuMs = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
const vocab = 32000;
const promptOf = (i: number) => Array.from({ length: promptTokens }, (_, t) => 3 + ((i * 7919 + t * 104729) % (vocab - 3)));

interface StreamResult {
  ttftMs: number;
  /** The server's CPU time between the run's start and this stream's first token. */
  ttftCpuMs: number;
  logprobs: number[];
}

async function stream(i: number, cpu0 = cpuMs()): Promise<StreamResult> {
  const t0 = performance.now();
  let ttftMs = 0;
  let ttftCpuMs = 0;
  const logprobs: number[] = [];
  const s = await client.completions.create({ model: 'bench', prompt: promptOf(i), max_tokens: tokens, temperature: 0, logprobs: 0, stream: true });
  for await (const chunk of s) {
    const lp = chunk.choices[0]?.logprobs?.token_logprobs ?? [];
    if (lp.length && !ttftMs) {
      ttftMs = performance.now() - t0;
      ttftCpuMs = cpuMs() - cpu0;
    }
    logprobs.push(...lp);
  }
  return { ttftMs, ttftCpuMs, logprobs };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

await stream(maxStreams + 1); // warm-up
const solo: number[][] = [];
for (let i = 0; i < maxStreams; i++) solo.push((await stream(i)).logprobs);

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');
console.log(`\nbimamba serve load test: ${model.split('/').pop()}, ${promptTokens}-token prompts, ${tokens} greedy tokens per stream, threads ${threads}`);
console.log(`${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load average (1 / 5 / 15 min) before: ${load()}\n`);
console.log('| streams | aggregate tok/s | per stream tok/s | TTFT p50 ms | TTFT p99 ms | tok per server CPU s | TTFT p50 / p99 server CPU ms | peak RSS MB | same tokens as alone |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const n of streamCounts) {
  peakRss = rss();
  const t0 = performance.now();
  const cpu0 = cpuMs();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => stream(i, cpu0)));
  const wall = (performance.now() - t0) / 1000;
  const cpu = (cpuMs() - cpu0) / 1000;
  const total = results.reduce((a, r) => a + r.logprobs.length, 0);
  const same = results.every((r, i) => JSON.stringify(r.logprobs) === JSON.stringify(solo[i]));
  const ttft = results.map((r) => r.ttftMs);
  const ttftCpu = results.map((r) => r.ttftCpuMs);
  console.log(`| ${n} | ${(total / wall).toFixed(1)} | ${(total / wall / n).toFixed(1)} | ${percentile(ttft, 50).toFixed(0)} | ${percentile(ttft, 99).toFixed(0)} | ` +
    `${(total / cpu).toFixed(1)} | ${percentile(ttftCpu, 50).toFixed(0)} / ${percentile(ttftCpu, 99).toFixed(0)} | ${(peakRss / 2 ** 20).toFixed(0)} | ${same ? 'yes' : 'NO'} |`);
  if (!same) process.exitCode = 1;
}
console.log(`\nload average after: ${load()}`);
clearInterval(sampler);
stopServer();
