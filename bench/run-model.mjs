// One model at one thread count, in a plain Node process of its own running the built package (dist/),
// so that its peak RSS is what a user's process has (a TypeScript loader in the process adds ~50 MB):
//   node bench/run-model.mjs FILE THREADS RUNS PROMPT_TOKENS DECODE_TOKENS [--exact] [--state-type f32|bf16] [--breakdown]
// prints one JSON line: load time, then the medians over RUNS runs of a fresh session fed a prompt
// (prefill) and then tokens one at a time (decode, greedy: feed() and argmax), the same decode through
// model.generate() (greedy, and sampled as users sample: SAMPLED), peak RSS and WASM memory.
// serial_us_per_token and pool_calls_per_token (prefill, decode), from one more run: the time per token the
// calling thread fed alone (outside the worker pool's jobs, where no worker has anything to run; decode: the
// median over its tokens) and the jobs handed to the workers per token (at one thread, everything is serial
// and there are no jobs).
// With --breakdown instead: µs per token by graph operation for one prefill and the decode after it
// (every operation timed, so in a process of its own, apart from the measured runs).
import { statSync } from 'node:fs';
import { loadModel } from '../dist/index.js';
import { benchPrompt } from './peers/prompt.mjs';

/** Sampling as users sample (bench/common.ts has the same). */
const SAMPLED = { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1 };

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const [file, threadsArg, runsArg, promptArg, decodeArg] = process.argv.slice(2);
const exact = process.argv.includes('--exact');
const stateAt = process.argv.indexOf('--state-type');
const stateType = stateAt >= 0 ? process.argv[stateAt + 1] : undefined; // the library's default unless given
const threads = Number(threadsArg);
const runs = Number(runsArg);
const PREFILL_TOKENS = Number(promptArg);
const DECODE_TOKENS = Number(decodeArg);

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

const breakdownOnly = process.argv.includes('--breakdown');
/** Milliseconds by graph operation (an internal load option that wraps every operation in a timer): --breakdown only. */
const opTimes = breakdownOnly ? new Map() : undefined;
/** The pool's jobs and the ms inside them (an internal load option; two clock reads a job). */
const poolStats = { jobs: 0, parallelMs: 0 };
const t0 = performance.now();
const model = await loadModel(file, { threads, exact, stateType, opTimes, poolStats });
const loadS = (performance.now() - t0) / 1000;
const ids = benchPrompt(PREFILL_TOKENS, model.vocabSize);

/** One run: a fresh session, the prompt, then greedy decoding. Returns [prefill s, decode s]. */
function once(promptTokens, decodeTokens) {
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

/** Decode through model.generate(): a session fed the prompt, then DECODE_TOKENS generated. Returns s. */
async function generated(promptTokens, decodeTokens, options) {
  const session = model.createSession();
  try {
    session.feed(promptTokens);
    const t = performance.now();
    let n = 0;
    for await (const _ of model.generate([], { ...options, session, maxTokens: decodeTokens, stopAtEos: false, seed: 1 })) n++;
    if (n !== decodeTokens) throw new Error(`generate() gave ${n} tokens, not ${decodeTokens}`);
    return (performance.now() - t) / 1000;
  } finally {
    session.dispose();
  }
}

once(ids.slice(0, 64), 8); // warm-up: the engine optimises the hot WASM functions
await generated(ids.slice(0, 16), 8, SAMPLED);
/** µs per token by operation, largest first, over what `run` fed: [seconds, tokens]; the rest (wrappers included) is 'other'. */
function breakdown(run) {
  opTimes.clear();
  const [seconds, tokens] = run();
  const perToken = (ms) => Math.round((1000 * ms) / tokens);
  const rows = [...opTimes].sort((a, b) => b[1] - a[1]).map(([op, ms]) => [op, perToken(ms)]);
  const timed = [...opTimes.values()].reduce((a, b) => a + b, 0);
  return Object.fromEntries([...rows, ['other', perToken(1000 * seconds - timed)]]);
}

// --breakdown: one prefill and one decode with every operation timed, instead of the measured runs
if (breakdownOnly) {
  const s = model.createSession();
  const prefill_breakdown_us = breakdown(() => {
    const t = performance.now();
    s.feed(ids);
    return [(performance.now() - t) / 1000, ids.length];
  });
  const decode_breakdown_us = breakdown(() => {
    let logits = s.lastLogits();
    const t = performance.now();
    for (let i = 0; i < DECODE_TOKENS; i++) logits = s.feed([argmax(logits)]);
    return [(performance.now() - t) / 1000, DECODE_TOKENS];
  });
  process.stdout.write(`${JSON.stringify({ prefill_breakdown_us, decode_breakdown_us })}\n`);
  model.dispose();
  process.exit(0);
}

const prefill = [], decode = [], greedy = [], sampled = [];
for (let r = 0; r < runs; r++) {
  const [p, d] = once(ids, DECODE_TOKENS);
  prefill.push(PREFILL_TOKENS / p);
  decode.push(DECODE_TOKENS / d);
  greedy.push(DECODE_TOKENS / (await generated(ids, DECODE_TOKENS, { temperature: 0 })));
  sampled.push(DECODE_TOKENS / (await generated(ids, DECODE_TOKENS, SAMPLED)));
}
/** µs per token fed outside pool jobs, and jobs per token, over what `run` fed: [seconds, tokens]. */
function serialOf(run) {
  poolStats.jobs = 0;
  poolStats.parallelMs = 0;
  const [seconds, tokens] = run();
  return [(1e6 * seconds - 1000 * poolStats.parallelMs) / tokens, poolStats.jobs / tokens];
}
const serialSession = model.createSession();
const [prefillSerial, prefillJobs] = serialOf(() => {
  const t = performance.now();
  serialSession.feed(ids);
  return [(performance.now() - t) / 1000, ids.length];
});
// decode: the median over the tokens (a token whose thread the OS took away for a while does not count)
const decodeSerials = [];
let decodeJobs = 0;
let logits = serialSession.lastLogits();
for (let i = 0; i < DECODE_TOKENS; i++) {
  const [us, jobs] = serialOf(() => {
    const t = performance.now();
    logits = serialSession.feed([argmax(logits)]);
    return [(performance.now() - t) / 1000, 1];
  });
  decodeSerials.push(us);
  decodeJobs += jobs / DECODE_TOKENS;
}
const decodeSerial = median(decodeSerials);
serialSession.dispose();
const result = {
  model: '',
  threads: model.threads,
  exact,
  state_type: model.stateType,
  prompt_tokens: PREFILL_TOKENS,
  decode_tokens: DECODE_TOKENS,
  prefill_tok_s: median(prefill),
  decode_tok_s: median(decode),
  prefill_runs: prefill,
  decode_runs: decode,
  generate_greedy_tok_s: median(greedy),
  generate_sampled_tok_s: median(sampled),
  generate_greedy_runs: greedy,
  generate_sampled_runs: sampled,
  serial_us_per_token: { prefill: Math.round(prefillSerial), decode: Math.round(decodeSerial) },
  pool_calls_per_token: { prefill: Math.round(10 * prefillJobs) / 10, decode: Math.round(10 * decodeJobs) / 10 },
  load_s: loadS,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  memory_blocks: model.memory.blocks,
  wasm_memory_mb: model.memoryBytes / 2 ** 20,
  file_mb: statSync(file).size / 2 ** 20,
};
model.dispose();
process.stdout.write(`${JSON.stringify(result)}\n`);
