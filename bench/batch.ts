// Batched decoding at the model level, no HTTP:
//   npm run bench:batch [-- --sizes 1,4,8,12,16] [--threads 1] [--state-type bf16|f32] [--model FILE]
// For each batch size B: B sessions of the synthetic Bi-Mamba 780M (tests/util/synthetic-model.ts,
// cached in .cache/bench) fed a short prompt each, then decoding steps of one token each, fed alone (B calls of
// session.feed) and together (one Session.feedBatch, which runs the forward calls of `bimamba serve`'s decoding steps, Session.feedParts), interleaved, medians of
// --runs. Prints ms per token both ways and, for the batched steps, where a token's time goes by graph
// operation: the projections and the LM head read their weights once per batch, while the scan reads and
// writes each session's own SSM state, which no batch shares.
import { loadModel } from '../src/index.js';
import { STATE_TYPES, type StateType } from '../src/model/memory.js';
import { Session } from '../src/model/session.js';
import { ensureSyntheticModel, MODELS } from '../tests/util/synthetic-model.js';

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const sizes = (option('--sizes') ?? '1,4,8,12,16').split(',').map(Number);
const threads = Number(option('--threads') ?? 1);
const runs = Number(option('--runs') ?? 5);
const stateType = (option('--state-type') ?? 'bf16') as StateType;
if (!STATE_TYPES.includes(stateType)) throw new Error(`--state-type: one of ${STATE_TYPES.join(', ')}`);
if (!sizes.every((b) => Number.isInteger(b) && b >= 1 && b <= 64) || !(runs >= 1 && runs <= 50)) throw new Error('--sizes: integers in [1, 64]; --runs: in [1, 50]');

let path = option('--model');
if (!path) {
  path = new URL('../.cache/bench/bimamba-780m.bimamba', import.meta.url).pathname;
  await ensureSyntheticModel(MODELS['bimamba-780m'], path, (m) => console.log(`  ${m}`));
}
const dist = new URL('../dist/', import.meta.url);
const opMs = new Map<string, number>(); // every graph operation timed (an internal load option)
const model = await loadModel(path, { threads, stateType, verify: false, opTimes: opMs, wasm: new URL('bimamba.wasm', dist), wasmThreads: new URL('bimamba-threads.wasm', dist) });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nbatched decoding, ${path.split('/').pop()}, ${model.threads} thread(s), ${model.stateType} state, medians of ${runs} steps\n`);
console.log('| sessions | alone ms/token | batched ms/token | batched / alone tok/s | batched: ms per token by operation |');
console.log('| ---: | ---: | ---: | ---: | --- |');
for (const B of sizes) {
  const sessions = Array.from({ length: B }, (_, i) => {
    const s = model.createSession();
    s.feed([3 + i, 11, 5 + i, 7]);
    return s;
  });
  const tokens = sessions.map((_, i) => 100 + 17 * i);
  Session.feedBatch(sessions, tokens); // warm-up
  const alone: number[] = [], together: number[] = [];
  const batchedMs = new Map<string, number>();
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    for (let i = 0; i < B; i++) sessions[i].feed([tokens[i]]);
    alone.push((performance.now() - t0) / B);
    opMs.clear();
    t0 = performance.now();
    Session.feedBatch(sessions, tokens);
    together.push((performance.now() - t0) / B);
    for (const [op, ms] of opMs) batchedMs.set(op, (batchedMs.get(op) ?? 0) + ms);
  }
  const split = [...batchedMs].sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms / runs / B >= 0.05).map(([op, ms]) => `${op} ${(ms / runs / B).toFixed(2)}`).join(', ');
  console.log(`| ${B} | ${median(alone).toFixed(1)} | ${median(together).toFixed(1)} | ${(median(alone) / median(together)).toFixed(2)}x | ${split} |`);
  for (const s of sessions) s.dispose();
}
model.dispose();
