// One GGUF in node-llama-cpp (native llama.cpp, CPU) at one thread count, in a process of its own:
//   tsx bench/peers/llama-node.ts CACHE FILE THREADS RUNS PROMPT_TOKENS DECODE_TOKENS
// prints one JSON line: medians over RUNS runs of a cleared sequence fed the prompt (prefill), then
// DECODE_TOKENS generated greedily one at a time (decode), the package version and peak RSS.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from '../common.js';
import { benchPrompt } from './prompt.mjs';

const [cache, file, threadsArg, runsArg, promptArg, decodeArg] = process.argv.slice(2);
const threads = Number(threadsArg), runs = Number(runsArg), promptTokens = Number(promptArg), decodeTokens = Number(decodeArg);
const pkg = join(cache, 'node_modules', 'node-llama-cpp');
const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }).version;
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(join(pkg, 'dist', 'index.js')).href);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
const loadS = (performance.now() - t0) / 1000;
const context = await model.createContext({ contextSize: promptTokens + decodeTokens + 16, threads, batchSize: promptTokens, sequences: 1 });
const sequence = context.getSequence();
const ids = benchPrompt(promptTokens, 32000);

async function once(prompt: number[], n: number): Promise<[number, number]> {
  await sequence.clearHistory();
  let t = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  const prefill = (performance.now() - t) / 1000;
  t = performance.now();
  let k = 0;
  for await (const _ of sequence.evaluate([prompt[prompt.length - 1]], { temperature: 0 })) if (++k >= n) break;
  return [prefill, (performance.now() - t) / 1000];
}

await once(ids.slice(0, 32), 4); // warm-up
const prefill: number[] = [], decode: number[] = [];
for (let r = 0; r < runs; r++) {
  const [p, d] = await once(ids, decodeTokens);
  prefill.push(promptTokens / p);
  decode.push(decodeTokens / d);
}
process.stdout.write(`${JSON.stringify({ version, threads, load_s: loadS, prefill_tok_s: median(prefill), decode_tok_s: median(decode), prefill_runs: prefill, decode_runs: decode, peak_rss_mb: process.resourceUsage().maxRSS / 1024 })}\n`);
await context.dispose();
await model.dispose();
await llama.dispose();
