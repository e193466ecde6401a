// The benchmark suite: `npm run bench [-- --quick] [--json FILE] [--runs N] [--relaxed]`.
//   1. the machine: f32 SIMD peak, memory bandwidth (bench/machine.ts);
//   2. kernels at the real layer shapes, one thread (bench/kernels.ts);
//   3. models: synthetic Bi-Mamba 780M / 1.3B / 2.7B and an f32 Mamba-2 780M (bench/synthetic.ts,
//      cached in .cache/bench), each at 1 and 2 threads in a plain Node process of its own on the built package (bench/run-model.mjs).
// --quick: the 780M models and the kernels of the 780M shapes only. --relaxed: run everything with
// V8's relaxed SIMD flag (Node 20; Node 22+ has it on). The JSON schema is in bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUILDS, DECODE_TOKENS, F32_DECODE_TOKENS, F32_PREFILL_TOKENS, PREFILL_TOKENS, printBreakdown, RELAXED, type BenchResults, type ModelRun } from './common.js';
import { benchKernels, kernelResults, printKernels } from './kernels.js';
import { measureMachine } from './machine.js';
import { ensureSyntheticModel, MODELS } from './synthetic.js';

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const runs = Number(option('--runs') ?? 5);
const jsonPath = option('--json');
const relaxedFlag = args.includes('--relaxed') ? ['--experimental-wasm-relaxed-simd'] : [];
const root = fileURLToPath(new URL('..', import.meta.url));
const cache = `${root}.cache/bench`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

if (relaxedFlag.length && !RELAXED) {
  // restart under the flag, so that this process and its children run relaxed SIMD
  execFileSync(process.execPath, [...relaxedFlag, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(0);
}

console.log(`bimamba benchmark${quick ? ' (quick)' : ''}: ${runs} runs per model and thread count, medians\n`);
const machine = await measureMachine();
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb.toFixed(0)} GB; Node ${machine.node} (V8 ${machine.v8}), relaxed SIMD ${machine.relaxed_simd ? 'on' : 'off'}`);
console.log(`f32 SIMD peak ${machine.f32_peak_gflops.toFixed(1)} GFLOP/s (1 thread); read bandwidth ${machine.read_gb_s_1t.toFixed(1)} GB/s (1 thread), ${machine.read_gb_s_2t.toFixed(1)} GB/s (2 threads)   [${elapsed()}]\n`);

const best = await benchKernels(quick);
const simd128 = RELAXED ? await benchKernels(quick, BUILDS.simd128) : best;
const kernels = kernelResults(best, simd128);
printKernels(kernels, RELAXED);
console.log(`   [${elapsed()}]\n`);

const names = quick ? ['bimamba-780m', 'mamba2-780m-f32'] : ['bimamba-780m', 'bimamba-1.3b', 'bimamba-2.7b', 'mamba2-780m-f32'];
const modelRuns: ModelRun[] = [];
const row = (r: ModelRun) =>
  `${r.model.padEnd(16)}${String(r.threads).padStart(8)}${r.prefill_tok_s.toFixed(1).padStart(12)}${r.decode_tok_s.toFixed(1).padStart(12)}` +
  `${r.load_s.toFixed(2).padStart(9)}${r.peak_rss_mb.toFixed(0).padStart(11)}${r.wasm_memory_mb.toFixed(0).padStart(11)}${r.file_mb.toFixed(0).padStart(9)}`;
console.log(`${'model'.padEnd(16)}${'threads'.padStart(8)}${'prefill t/s'.padStart(12)}${'decode t/s'.padStart(12)}${'load s'.padStart(9)}${'peak RSS'.padStart(11)}${'WASM MB'.padStart(11)}${'file MB'.padStart(9)}`);
for (const name of names) {
  const m = MODELS[name];
  const file = `${cache}/${name}.bimamba`;
  await ensureSyntheticModel(m, file, (msg) => console.log(`  ${msg}`));
  const [prompt, decode] = m.binarized ? [PREFILL_TOKENS, DECODE_TOKENS] : [F32_PREFILL_TOKENS, F32_DECODE_TOKENS];
  for (const threads of [1, 2]) {
    const script = fileURLToPath(new URL('./run-model.mjs', import.meta.url));
    const run = (extra: string[]) => JSON.parse(execFileSync(process.execPath, [...relaxedFlag, script, file, String(threads), String(runs), String(prompt), String(decode), ...extra], { encoding: 'utf8' }).trim().split('\n').pop()!);
    const r: ModelRun = { ...run([]), ...run(['--breakdown']), model: name };
    modelRuns.push(r);
    console.log(`${row(r)}   [${elapsed()}]`);
  }
}
for (const name of names) printBreakdown(modelRuns.filter((r) => r.model === name));

const results: BenchResults = { schema: 1, date: new Date().toISOString(), quick, machine, kernels, runs: modelRuns };
if (jsonPath) {
  mkdirSync(fileURLToPath(new URL('.', new URL(jsonPath, `file://${process.cwd()}/`))), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
}
console.log(`done in ${elapsed()}`);
