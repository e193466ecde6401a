// The peers in our own bench: `npm run bench:peers [-- --runs N] [--json FILE] [--types Q1_0,Q4_0] [--no-browser]
// [--prompt 512] [--decode 128]`.
// Not part of `npm test`, and nothing here is a dependency of the package: on first use it installs
// node-llama-cpp (native llama.cpp, CPU) and @wllama/wllama (llama.cpp in WASM) into .cache/peers.
// Then, in one run: a GGUF of architecture mamba2 at the synthetic 780M's shape for each block type
// (bench/peers/gguf.ts), node-llama-cpp on it at 1 and 2 threads, our 780M in Node (bench/run-model.mjs),
// and in headless Chromium wllama on the same GGUFs and ours in a Web Worker. One table, and JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { median, printBreakdown, SAMPLED, type ModelRun } from '../common.js';
import { measureMachine } from '../machine.js';
import { ensureSyntheticModel, MODELS } from '../synthetic.js';
import { writeMamba2Gguf, type BlockType } from './gguf.js';
import { benchPrompt } from './prompt.mjs';

const VERSIONS = { 'node-llama-cpp': '3.22.1', '@wllama/wllama': '3.13.0' };
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
  host: 'node' | 'deno' | 'chromium';
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

const peers: PeerRun[] = [];
const show = (r: PeerRun) => {
  const f = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1)).padStart(9);
  console.log(`${`${r.runtime} ${r.version}`.padEnd(22)}${r.host.padEnd(10)}${r.type.padEnd(12)}${String(r.threads).padStart(3)}${f(r.prefill_tok_s)}${f(r.decode_tok_s)}${f(r.generate_greedy_tok_s)}${f(r.generate_sampled_tok_s)}${f(r.peak_rss_mb)}${f(r.file_mb)}  ${r.error ?? ''}   [${elapsed()}]`);
  peers.push(r);
};
console.log(`\n${'runtime'.padEnd(22)}${'host'.padEnd(10)}${'type'.padEnd(12)}${'thr'.padStart(3)}${'prefill'.padStart(9)}${'decode'.padStart(9)}${'gen 0'.padStart(9)}${'gen smp'.padStart(9)}${'RSS MB'.padStart(9)}${'file MB'.padStart(9)}`);

const version = (await import('../../package.json', { with: { type: 'json' } })).default.version as string;
const ourRuns: ModelRun[] = [];
const ourRow = (host: 'node' | 'deno', type: string, r: ModelRun): PeerRun => ({
  runtime: 'bimamba', version, host, type, threads: r.threads, prompt_tokens: PROMPT, decode_tokens: DECODE, prefill_tok_s: r.prefill_tok_s, decode_tok_s: r.decode_tok_s,
  generate_greedy_tok_s: r.generate_greedy_tok_s, generate_sampled_tok_s: r.generate_sampled_tok_s, prefill_runs: r.prefill_runs, decode_runs: r.decode_runs,
  peak_rss_mb: r.peak_rss_mb, wasm_memory_mb: r.wasm_memory_mb, file_mb: r.file_mb,
});
for (const threads of [1, 2]) {
  const r: ModelRun = { ...plainNode('../run-model.mjs', [ours, threads, runs, PROMPT, DECODE]), ...plainNode('../run-model.mjs', [ours, threads, 1, PROMPT, DECODE, '--breakdown']), model: 'bimamba-780m' };
  ourRuns.push(r);
  show(ourRow('node', '1-bit', r));
}
for (const threads of [1, 2]) show(ourRow('node', '1-bit f32s', plainNode('../run-model.mjs', [ours, threads, runs, PROMPT, DECODE, '--state-type', 'f32'])));
// the same script in Deno (npm package deno)
const deno = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));
for (const threads of [1, 2]) {
  try {
    const out = execFileSync(deno, ['run', '-A', fileURLToPath(new URL('../run-model.mjs', import.meta.url)), ours, String(threads), String(runs), String(PROMPT), String(DECODE)], { encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'pipe'] });
    show(ourRow('deno', '1-bit', JSON.parse(out.trim().split('\n').pop()!)));
  } catch (e) {
    show({ runtime: 'bimamba', version, host: 'deno', type: '1-bit', threads, prompt_tokens: PROMPT, decode_tokens: DECODE, prefill_tok_s: null, decode_tok_s: null, prefill_runs: [], decode_runs: [], peak_rss_mb: null, file_mb: fileMb(ours), error: `not run: ${errorText(e)}` });
  }
}
for (const t of types) {
  for (const threads of [1, 2]) {
    const base = { runtime: 'node-llama-cpp', version: VERSIONS['node-llama-cpp'], host: 'node' as const, type: t, threads, prompt_tokens: PROMPT, decode_tokens: DECODE, file_mb: fileMb(gguf(t)) };
    try {
      const r = tsx('./llama-node.ts', [cache, gguf(t), threads, runs, PROMPT, DECODE]);
      show({ ...base, prefill_tok_s: r.prefill_tok_s, decode_tok_s: r.decode_tok_s, prefill_runs: r.prefill_runs, decode_runs: r.decode_runs, peak_rss_mb: r.peak_rss_mb });
    } catch (e) {
      show({ ...base, prefill_tok_s: null, decode_tok_s: null, prefill_runs: [], decode_runs: [], peak_rss_mb: null, error: `not run: ${errorText(e)}` });
    }
  }
}

if (browser) {
  const { chromium } = await import('playwright-core');
  // @ts-expect-error: a plain ES module without types
  const { serve } = await import('../../examples/web/serve.mjs');
  const server: Server = await serve(root, 0);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browserApp = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browserApp.newPage();
    page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
    await page.goto(`${base}/bench/peers/browser.html`);
    await page.waitForFunction('window.ready === true');
    const url = (f: string) => `/${f.slice(root.length)}`;
    for (const threads of [1, 2]) {
      const r = (await page.evaluate(`window.runBimamba(${JSON.stringify({ url: url(ours), threads, prompt: benchPrompt(PROMPT, 32000), decodeTokens: DECODE, runs, sampled: SAMPLED })})`)) as Record<string, number[]> & { threads: number; wasm_memory_mb: number };
      show({ runtime: 'bimamba', version, host: 'chromium', type: '1-bit', threads: r.threads, prompt_tokens: PROMPT, decode_tokens: DECODE, prefill_tok_s: median(r.prefill_runs), decode_tok_s: median(r.decode_runs), generate_greedy_tok_s: median(r.generate_greedy_runs), generate_sampled_tok_s: median(r.generate_sampled_runs), prefill_runs: r.prefill_runs, decode_runs: r.decode_runs, peak_rss_mb: null, wasm_memory_mb: r.wasm_memory_mb, file_mb: fileMb(ours) });
    }
    for (const t of types) {
      for (const threads of [1, 2]) {
        const row = { runtime: 'wllama', version: VERSIONS['@wllama/wllama'], host: 'chromium' as const, type: t, threads, peak_rss_mb: null, file_mb: fileMb(gguf(t)) };
        try {
          const r = (await page.evaluate(`window.runWllama(${JSON.stringify({ url: url(gguf(t)), threads, promptTokens: WASM_PROMPT, decodeTokens: WASM_DECODE, runs })})`)) as { prefill_runs: number[]; decode_runs: number[]; prompt_tokens: number; decode_tokens: number; threads: number };
          show({ ...row, threads: r.threads, prompt_tokens: r.prompt_tokens, decode_tokens: r.decode_tokens, prefill_tok_s: median(r.prefill_runs), decode_tok_s: median(r.decode_runs), prefill_runs: r.prefill_runs, decode_runs: r.decode_runs });
        } catch (e) {
          show({ ...row, prompt_tokens: WASM_PROMPT, decode_tokens: WASM_DECODE, prefill_tok_s: null, decode_tok_s: null, prefill_runs: [], decode_runs: [], error: `failed: ${String((e as Error).message).split('\n')[0].replace('page.evaluate: ', '').slice(0, 160)}` });
        }
      }
    }
  } finally {
    await browserApp.close();
    await new Promise((r) => server.close(r));
  }
}

printBreakdown(ourRuns);
const results = { schema: 2, date: new Date().toISOString(), quick: false, machine, kernels: [], runs: ourRuns, peers };
if (jsonPath) {
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
}
console.log(`done in ${elapsed()}`);
