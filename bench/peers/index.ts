// The peers in our own bench: `npm run bench:peers [-- --runs N] [--json FILE] [--types Q1_0,Q4_0] [--no-browser]
// [--prompt 512] [--decode 128]`.
// Not part of `npm test`, and nothing here is a dependency of the package: on first use it installs
// node-llama-cpp (native llama.cpp, CPU) and @wllama/wllama (llama.cpp in WASM) into .cache/peers.
// Then, in one run: a GGUF of architecture mamba2 at the synthetic 780M's shape for each block type
// (bench/peers/gguf.ts), node-llama-cpp on it at 1 and 2 threads, our 780M in Node 20, Node 24 and Deno
// (bench/run-model.mjs), and in headless Chromium wllama on the same GGUFs and ours in a Web Worker; all
// of them round-robin, one run of each per round. One table, and JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { median, printBreakdown, SAMPLED, type ModelRun, type PhaseFigures } from '../common.js';
import { measureMachine } from '../machine.js';
import { ensureSyntheticModel, MODELS } from '../../tests/util/synthetic-model.js';
import { writeMamba2Gguf, type BlockType } from './gguf.js';
import { benchPrompt } from './prompt.mjs';

const VERSIONS = { 'node-llama-cpp': '3.22.1', '@wllama/wllama': '3.13.0' };
/** The Node 24 that .ci/run tests in (npm package node). */
const NODE24 = '24.21.0';
const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const runs = Number(option('--runs') ?? 3);
const jsonPath = option('--json');
const types = (option('--types') ?? 'Q1_0,TQ1_0,TQ2_0,Q4_0').split(',') as BlockType[];
const browser = !args.includes('--no-browser');
const PROMPT = Number(option('--prompt') ?? 512), DECODE = Number(option('--decode') ?? 128);
/** llama.cpp in WASM is ~20x slower here: its runs are shorter (a Mamba's cost per token does not depend on length). */
const WASM_PROMPT = Math.min(32, PROMPT), WASM_DECODE = Math.min(8, DECODE);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cache = `${root}.cache/peers`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

export interface PeerRun {
  runtime: string; // bimamba | node-llama-cpp | wllama
  version: string;
  host: 'node' | 'node24' | 'deno' | 'chromium';
  type: string; // the 1-bit layers' block type (bimamba: its own 1-bit format, its session state in bf16; `1-bit f32s`: in f32)
  threads: number;
  prompt_tokens: number;
  decode_tokens: number;
  prefill_tok_s: number | null;
  decode_tok_s: number | null;
  generate_greedy_tok_s?: number;
  generate_sampled_tok_s?: number;
  prefill_runs: number[];
  decode_runs: number[];
  peak_rss_mb: number | null; // the process (Node); not measured in Chromium
  wasm_memory_mb?: number;
  file_mb: number;
  serial_us_per_token?: PhaseFigures; // ours in Node: run-model.mjs's figures of the last round
  pool_calls_per_token?: PhaseFigures;
  error?: string; // why there is no figure (e.g. the block type is not supported)
}

function install(): void {
  if (existsSync(`${cache}/node_modules/node-llama-cpp/package.json`) && existsSync(`${cache}/node_modules/@wllama/wllama/package.json`)) return;
  console.log(`installing ${Object.entries(VERSIONS).map(([n, v]) => `${n}@${v}`).join(', ')} into .cache/peers (first use)`);
  mkdirSync(cache, { recursive: true });
  writeFileSync(`${cache}/package.json`, '{ "name": "bimamba-bench-peers", "private": true }\n');
  const pkgs = Object.entries(VERSIONS).map(([n, v]) => `${n}@${v}`);
  // on Linux x64 only the CPU build of node-llama-cpp (its CUDA and Vulkan builds are large optional packages)
  const cpuOnly = process.platform === 'linux' && process.arch === 'x64';
  if (cpuOnly) pkgs.push(`@node-llama-cpp/linux-x64@${VERSIONS['node-llama-cpp']}`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...(cpuOnly ? ['--omit=optional'] : []), ...pkgs], { cwd: cache, stdio: 'inherit' });
}

const fileMb = (f: string) => statSync(f).size / 2 ** 20;
const tsx = (script: string, a: (string | number)[], timeoutS = 900) =>
  JSON.parse(execFileSync(process.execPath, [...process.execArgv, fileURLToPath(new URL(script, import.meta.url)), ...a.map(String)], { encoding: 'utf8', timeout: timeoutS * 1000, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!);
const plainNode = (script: string, a: (string | number)[], timeoutS = 900) =>
  JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...a.map(String)], { encoding: 'utf8', timeout: timeoutS * 1000, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!);
const errorText = (e: unknown) => { const err = e as { stderr?: string; message?: string }; const lines = `${err.stderr ?? ''}\n${err.message ?? e}`.split('\n').filter((l) => /error|unsupported|invalid|failed/i.test(l)); return (lines[0] ?? String(e)).trim().slice(0, 200); };

install();
const machine = await measureMachine();
console.log(`machine: ${machine.cpu}, ${machine.cores} cores; Node ${machine.node}; read bandwidth ${machine.read_gb_s_1t.toFixed(1)} / ${machine.read_gb_s_2t.toFixed(1)} GB/s (1 / 2 threads)   [${elapsed()}]`);
const ours = `${root}.cache/bench/bimamba-780m.bimamba`;
await ensureSyntheticModel(MODELS['bimamba-780m'], ours, (m) => console.log(`  ${m}`));
const gguf = (t: BlockType) => `${cache}/mamba2-780m-${t}.gguf`;
for (const t of types) if (!existsSync(gguf(t))) { console.log(`  writing ${gguf(t)}`); writeMamba2Gguf(gguf(t), t); }

/** What one run of a configuration measured (tok/s), and its process's peak RSS where known. */
interface Sample {
  prefill: number; decode: number; greedy?: number; sampled?: number;
  peak_rss_mb?: number | null; wasm_memory_mb?: number; threads?: number; prompt_tokens?: number; decode_tokens?: number;
  serial?: PhaseFigures; jobs?: PhaseFigures;
}
/** One row of the table: its fixed fields, how to run it once, and what its runs gave. */
interface Config {
  row: Omit<PeerRun, 'prefill_tok_s' | 'decode_tok_s' | 'prefill_runs' | 'decode_runs'>;
  once: () => Promise<Sample>;
  samples: Sample[];
  error?: string;
}

const version = (await import('../../package.json', { with: { type: 'json' } })).default.version as string;
const configs: Config[] = [];
const add = (row: Config['row'], once: () => Promise<Sample> | Sample) => configs.push({ row, once: async () => once(), samples: [] });
const base = (runtime: string, ver: string, host: PeerRun['host'], type: string, threads: number, file: string, wasm = false): Config['row'] => ({
  runtime, version: ver, host, type, threads, prompt_tokens: wasm ? WASM_PROMPT : PROMPT, decode_tokens: wasm ? WASM_DECODE : DECODE, peak_rss_mb: null, file_mb: fileMb(file),
});
/** One run of bench/run-model.mjs (a process of its own) under `command` (Node, Node 24, Deno). */
const ourOnce = (command: () => string[], threads: number, extra: string[] = []) => (): Sample => {
  const [bin, ...flags] = command();
  const out = execFileSync(bin, [...flags, fileURLToPath(new URL('../run-model.mjs', import.meta.url)), ours, String(threads), '1', String(PROMPT), String(DECODE), ...extra], { encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: ModelRun = JSON.parse(out.trim().split('\n').pop()!);
  return { prefill: r.prefill_tok_s, decode: r.decode_tok_s, greedy: r.generate_greedy_tok_s, sampled: r.generate_sampled_tok_s, peak_rss_mb: r.peak_rss_mb, wasm_memory_mb: r.wasm_memory_mb, threads: r.threads, serial: r.serial_us_per_token, jobs: r.pool_calls_per_token };
};
const node = () => [process.execPath];
// Node 24 (npm package node, as .ci/run takes it: V8 12+, relaxed SIMD on, what most users run now) and Deno (npm package deno)
let node24Path: string | null = null;
const node24 = () => [node24Path ??= execFileSync('npx', ['-y', `node@${NODE24}`, '-p', 'process.execPath'], { encoding: 'utf8' }).trim()];
const deno = () => [fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url)), 'run', '-A'];
for (const threads of [1, 2]) add(base('bimamba', version, 'node', '1-bit', threads, ours), ourOnce(node, threads));
for (const threads of [1, 2]) add(base('bimamba', version, 'node', '1-bit f32s', threads, ours), ourOnce(node, threads, ['--state-type', 'f32']));
for (const threads of [1, 2]) add(base('bimamba', version, 'node24', '1-bit', threads, ours), ourOnce(node24, threads));
for (const threads of [1, 2]) add(base('bimamba', version, 'deno', '1-bit', threads, ours), ourOnce(deno, threads));
for (const t of types) {
  for (const threads of [1, 2]) {
    add(base('node-llama-cpp', VERSIONS['node-llama-cpp'], 'node', t, threads, gguf(t)), () => {
      const r = tsx('./llama-node.ts', [cache, gguf(t), threads, 1, PROMPT, DECODE]);
      return { prefill: r.prefill_tok_s, decode: r.decode_tok_s, peak_rss_mb: r.peak_rss_mb };
    });
  }
}

// Chromium: ours in a Web Worker and wllama, on one page served with the cross-origin isolation headers
let closeBrowser = async () => {};
if (browser) {
  const { chromium } = await import('playwright-core');
  // @ts-expect-error: a plain ES module without types
  const { serve } = await import('../../examples/web/serve.mjs');
  const server: Server = await serve(root, 0);
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browserApp = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  closeBrowser = async () => {
    await browserApp.close();
    await new Promise((r) => server.close(r));
  };
  const page = await browserApp.newPage();
  page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
  await page.goto(`${origin}/bench/peers/browser.html`);
  await page.waitForFunction('window.ready === true');
  const url = (f: string) => `/${f.slice(root.length)}`;
  for (const threads of [1, 2]) {
    add(base('bimamba', version, 'chromium', '1-bit', threads, ours), async () => {
      const r = (await page.evaluate(`window.runBimamba(${JSON.stringify({ url: url(ours), threads, prompt: benchPrompt(PROMPT, 32000), decodeTokens: DECODE, runs: 1, sampled: SAMPLED })})`)) as Record<string, number[]> & { threads: number; wasm_memory_mb: number };
      return { prefill: r.prefill_runs[0], decode: r.decode_runs[0], greedy: r.generate_greedy_runs[0], sampled: r.generate_sampled_runs[0], wasm_memory_mb: r.wasm_memory_mb, threads: r.threads };
    });
  }
  for (const t of types) {
    for (const threads of [1, 2]) {
      add(base('wllama', VERSIONS['@wllama/wllama'], 'chromium', t, threads, gguf(t), true), async () => {
        const r = (await page.evaluate(`window.runWllama(${JSON.stringify({ url: url(gguf(t)), threads, promptTokens: WASM_PROMPT, decodeTokens: WASM_DECODE, runs: 1 })})`)) as { prefill_runs: number[]; decode_runs: number[]; prompt_tokens: number; decode_tokens: number; threads: number };
        return { prefill: r.prefill_runs[0], decode: r.decode_runs[0], threads: r.threads, prompt_tokens: r.prompt_tokens, decode_tokens: r.decode_tokens };
      });
    }
  }
}

// Round-robin: run r of every configuration before run r + 1 of any, so that the shared machine's drift
// (its speed moves by tens of percent over minutes) falls on every row alike; medians over the rounds.
try {
  for (let round = 1; round <= runs; round++) {
    for (const c of configs) {
      if (c.error) continue;
      try {
        c.samples.push(await c.once());
      } catch (e) {
        c.error = `${c.row.runtime === 'wllama' ? 'load or run failed' : 'not run'}: ${e instanceof Error && !('stderr' in e) ? e.message.split('\n')[0].replace('page.evaluate: ', '').slice(0, 160) : errorText(e)}`;
      }
    }
    console.log(`  round ${round} of ${runs} done   [${elapsed()}]`);
  }
} finally {
  await closeBrowser();
}

const peers: PeerRun[] = configs.map(({ row, samples, error }) => {
  const of = (k: keyof Sample) => samples.map((x) => x[k]).filter((v): v is number => typeof v === 'number');
  const med = (k: keyof Sample) => (of(k).length ? median(of(k)) : undefined);
  const last = samples[samples.length - 1];
  return {
    ...row,
    threads: last?.threads ?? row.threads, prompt_tokens: last?.prompt_tokens ?? row.prompt_tokens, decode_tokens: last?.decode_tokens ?? row.decode_tokens,
    prefill_tok_s: med('prefill') ?? null, decode_tok_s: med('decode') ?? null,
    ...(of('greedy').length ? { generate_greedy_tok_s: med('greedy'), generate_sampled_tok_s: med('sampled') } : {}),
    prefill_runs: of('prefill'), decode_runs: of('decode'),
    peak_rss_mb: of('peak_rss_mb').length ? Math.max(...of('peak_rss_mb')) : null,
    ...(last?.wasm_memory_mb !== undefined ? { wasm_memory_mb: last.wasm_memory_mb } : {}),
    ...(last?.serial ? { serial_us_per_token: last.serial, pool_calls_per_token: last.jobs } : {}),
    ...(error ? { error } : {}),
  };
});
const f = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1)).padStart(9);
console.log(`\n${'runtime'.padEnd(22)}${'host'.padEnd(10)}${'type'.padEnd(12)}${'thr'.padStart(3)}${'prefill'.padStart(9)}${'decode'.padStart(9)}${'gen 0'.padStart(9)}${'gen smp'.padStart(9)}${'RSS MB'.padStart(9)}${'file MB'.padStart(9)}`);
for (const r of peers) {
  console.log(`${`${r.runtime} ${r.version}`.padEnd(22)}${r.host.padEnd(10)}${r.type.padEnd(12)}${String(r.threads).padStart(3)}${f(r.prefill_tok_s)}${f(r.decode_tok_s)}${f(r.generate_greedy_tok_s)}${f(r.generate_sampled_tok_s)}${f(r.peak_rss_mb)}${f(r.file_mb)}  ${r.error ?? ''}`);
}

// ours in Node, with the per-operation breakdown of a run of its own per thread count (every operation timed)
const ourRuns = peers.filter((r) => r.runtime === 'bimamba' && r.host === 'node' && r.type === '1-bit').map((r) => ({
  model: 'bimamba-780m', threads: r.threads, exact: false, prompt_tokens: PROMPT, decode_tokens: DECODE,
  prefill_tok_s: r.prefill_tok_s, decode_tok_s: r.decode_tok_s, prefill_runs: r.prefill_runs, decode_runs: r.decode_runs,
  generate_greedy_tok_s: r.generate_greedy_tok_s, generate_sampled_tok_s: r.generate_sampled_tok_s, peak_rss_mb: r.peak_rss_mb, wasm_memory_mb: r.wasm_memory_mb, file_mb: r.file_mb,
  serial_us_per_token: r.serial_us_per_token, pool_calls_per_token: r.pool_calls_per_token,
  ...plainNode('../run-model.mjs', [ours, r.threads, 1, PROMPT, DECODE, '--breakdown']),
})) as ModelRun[];
printBreakdown(ourRuns);
const results = { schema: 2, date: new Date().toISOString(), quick: false, machine, kernels: [], runs: ourRuns, peers };
if (jsonPath) {
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
}
console.log(`done in ${elapsed()}`);
