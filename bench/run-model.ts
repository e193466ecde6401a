// One model at one thread count, in a process of its own (so that its peak RSS is its own):
//   tsx bench/run-model.ts FILE THREADS RUNS PROMPT_TOKENS DECODE_TOKENS [--exact]
// prints one JSON line: load time, then the medians over RUNS runs of a fresh session fed a prompt
// (prefill) and then tokens one at a time (decode, greedy), peak RSS and WASM memory.
import { statSync } from 'node:fs';
import { loadModel } from '../src/model/model.js';
import { BUILDS, median, type ModelRun } from './common.js';

const [file, threadsArg, runsArg, promptArg, decodeArg] = process.argv.slice(2);
const exact = process.argv.includes('--exact');
const threads = Number(threadsArg);
const runs = Number(runsArg);
const PREFILL_TOKENS = Number(promptArg);
const DECODE_TOKENS = Number(decodeArg);

/** A fixed pseudo-random prompt inside the vocabulary. */
function prompt(n: number, vocab: number): number[] {
  let x = 12345;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 3 + (x % (vocab - 3));
  });
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

const t0 = performance.now();
const model = await loadModel(file, { wasm: BUILDS.single, wasmThreads: BUILDS.threads, threads, exact });
const loadS = (performance.now() - t0) / 1000;
const ids = prompt(PREFILL_TOKENS, model.vocabSize);

/** One run: a fresh session, the prompt, then greedy decoding. Returns [prefill s, decode s]. */
function once(promptTokens: number[], decodeTokens: number): [number, number] {
  const s = model.createSession();
  try {
    let t = performance.now();
    let logits = s.feed(promptTokens);
    const prefill = (performance.now() - t) / 1000;
    t = performance.now();
    for (let i = 0; i < decodeTokens; i++) logits = s.feed([argmax(logits)]);
    return [prefill, (performance.now() - t) / 1000];
  } finally {
    s.dispose();
  }
}

once(ids.slice(0, 64), 8); // warm-up: the engine optimises the hot WASM functions
const prefill: number[] = [], decode: number[] = [];
for (let r = 0; r < runs; r++) {
  const [p, d] = once(ids, DECODE_TOKENS);
  prefill.push(PREFILL_TOKENS / p);
  decode.push(DECODE_TOKENS / d);
}
const result: ModelRun = {
  model: '',
  threads: model.threads,
  exact,
  prompt_tokens: PREFILL_TOKENS,
  decode_tokens: DECODE_TOKENS,
  prefill_tok_s: median(prefill),
  decode_tok_s: median(decode),
  prefill_runs: prefill,
  decode_runs: decode,
  load_s: loadS,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  wasm_memory_mb: model.memoryBytes / 2 ** 20,
  file_mb: statSync(file).size / 2 ** 20,
};
model.dispose();
process.stdout.write(`${JSON.stringify(result)}\n`);
