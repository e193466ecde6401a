// Structured output's cost: `npm run bench:structured [-- --runs N] [--tokens N] [--no-780m]`.
//   1. compiling a typical schema (10 properties, nested): JSON Schema -> GBNF -> program -> start state;
//   2. decoding tok/s with and without a JSON Schema constraint, the built-in model and the synthetic
//      Bi-Mamba 780M (random weights, bench/README.md; given LLaMA-2's tokenizer, the one of the Bi-Mamba
//      releases, since the synthetic file has none), at 1 and 2 threads. Each run is a fresh session fed a
//      short prompt, then TOKENS tokens sampled as users sample; the constrained runs follow an array of the
//      typical schema's objects that never closes, so they too run TOKENS tokens. Constrained and unconstrained
//      runs alternate, so a busy spell on the machine slows both alike; the medians and the best runs are
//      reported, after a warm-up pair (the first constrained run also fills the mask cache: its tok/s is
//      shown apart). Then the constraint's own cost per token, without the model (constraintCost).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generate, type GenerateOptions, type GenerationHost } from '../src/generate/generate.js';
import { compileRules } from '../src/grammar/compile.js';
import { parseGbnf } from '../src/grammar/gbnf.js';
import { jsonSchemaToGbnf } from '../src/grammar/json-schema.js';
import { GrammarConstraint } from '../src/grammar/constraint.js';
import { Recognizer } from '../src/grammar/recognizer.js';
import { trieOf } from '../src/grammar/vocab.js';
import { loadModel, loadTokenizer, type Model } from '../src/index.js';
import { ensureSyntheticModel, MODELS } from '../tests/util/synthetic-model.js';
import { BUILDS, SAMPLED } from './common.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback; };
const runs = option('--runs', 5);
const tokens = option('--tokens', 128);
const root = fileURLToPath(new URL('..', import.meta.url));

/** A typical schema: 10 properties, nested objects and arrays, enums, bounds, a pattern, a $ref. */
export const TYPICAL = {
  $defs: { address: { type: 'object', properties: { street: { type: 'string', maxLength: 40 }, city: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } }, required: ['city'] } },
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1 },
    name: { type: 'string', minLength: 1, maxLength: 60 },
    email: { type: 'string' },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    active: { type: 'boolean' },
    role: { enum: ['admin', 'editor', 'viewer', 'guest'] },
    score: { type: 'number', minimum: 0, maximum: 100 },
    tags: { type: 'array', items: { type: 'string', maxLength: 20 }, maxItems: 8 },
    address: { $ref: '#/$defs/address' },
    manager: { anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } }, required: ['id'] }] },
  },
  required: ['id', 'name', 'role', 'address'],
  additionalProperties: false,
};

const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

// 1. compile time
const compileMs: number[] = [];
for (let i = 0; i < 30; i++) {
  const schema = { ...TYPICAL, properties: { ...TYPICAL.properties, [`extra${i}`]: { type: 'string' } } }; // a new text each time: no cache
  const t0 = performance.now();
  void new Recognizer(compileRules(parseGbnf(jsonSchemaToGbnf(schema))));
  compileMs.push(performance.now() - t0);
}
console.log(`compile a typical schema (10 properties, nested; 11 here): median ${median(compileMs.slice(5)).toFixed(2)} ms, first (cold JIT) ${compileMs[0].toFixed(1)} ms\n`);

// 2. decoding
// an array of the typical schema's objects that never closes, so every run decodes `tokens` tokens
const stream = `root ::= "[" item ("," " "? item)*\n${jsonSchemaToGbnf(TYPICAL).replace(/^root ::=/, 'item ::=')}`;
const CONSTRAINED: GenerateOptions = { grammar: stream };

function hostOf(model: Model, tokenizerFile?: string): GenerationHost {
  if (!tokenizerFile) return model;
  const tokenizer = loadTokenizer(readFileSync(tokenizerFile));
  return {
    tokenizer, vocabSize: model.vocabSize, eosTokenId: tokenizer.eosTokenId, addBosByDefault: false, bosTokenId: null,
    createSession: () => model.createSession(), owns: (s) => model.owns(s),
  };
}

let lastTokens: number[] = [];
/** tok/s of one run: a fresh session, the prompt fed, then `tokens` sampled. */
async function run(host: GenerationHost, prompt: number[], options: GenerateOptions, seed: number): Promise<number> {
  let ms = 0;
  lastTokens = [];
  for await (const item of generate(host, prompt, { ...SAMPLED, ...options, maxTokens: tokens, stopAtEos: false, seed })) {
    lastTokens.push(item.token);
    if (item.usage) ms = item.usage.decodeMs;
  }
  if (lastTokens.length !== tokens) throw new Error(`a run gave ${lastTokens.length} tokens, not ${tokens}`);
  return tokens / (ms / 1000);
}

let coldRun = 0;
/**
 * The constraint's own cost, µs per token, without the model: a run's tokens replayed through mask() and
 * accept() over logits of the vocabulary's size (cold: a grammar never seen, so every mask is computed;
 * warm: the same tokens again). Less noisy than the tok/s difference on a busy machine.
 */
function constraintCost(host: GenerationHost, ids: number[]): { cold: number; warm: number } {
  const V = Math.min(host.vocabSize, host.tokenizer!.vocabSize);
  const trie = trieOf(host.tokenizer!, V);
  const logits = new Float32Array(V);
  const replay = (text: string) => {
    const c = new GrammarConstraint(text, trie, host.eosTokenId);
    const t0 = performance.now();
    for (const id of ids) {
      c.mask(logits);
      c.accept(id);
    }
    return ((performance.now() - t0) * 1000) / ids.length;
  };
  const text = `${stream}# cold ${coldRun++}\n`;
  const cold = replay(text);
  let warm = Infinity;
  for (let i = 0; i < 5; i++) warm = Math.min(warm, replay(text)); // the best of five: a busy machine only adds
  return { cold, warm };
}

const rows: string[] = [];
const models: { name: string; file: string; tokenizer?: string }[] = [{ name: 'built-in (default.bimamba)', file: `${root}models/default.bimamba` }];
if (!args.includes('--no-780m')) {
  const file = `${root}.cache/bench/bimamba-780m.bimamba`;
  await ensureSyntheticModel(MODELS['bimamba-780m'], file, (m) => console.log(m));
  models.push({ name: 'synthetic 780M', file, tokenizer: `${root}../shared/data/tokenizers/llama2.tokenizer.model` });
}
console.log('model                        threads  unconstrained t/s  constrained t/s  ratio  cold constrained t/s   warm µs   cold µs  implied');
for (const m of models) {
  for (const threads of [1, 2]) {
    const model = await loadModel(m.file, { threads, wasm: BUILDS.single, wasmThreads: BUILDS.threads });
    try {
      const host = hostOf(model, m.tokenizer);
      const prompt = host.tokenizer!.encode('Here are the users as JSON: ');
      const cold = await run(host, prompt, CONSTRAINED, 0); // fills the mask cache
      await run(host, prompt, {}, 0);
      const free: number[] = [];
      const constrained: number[] = [];
      for (let r = 1; r <= runs; r++) {
        free.push(await run(host, prompt, {}, r));
        constrained.push(await run(host, prompt, CONSTRAINED, r));
      }
      const f = median(free);
      const c = median(constrained);
      const fBest = Math.max(...free);
      const cBest = Math.max(...constrained);
      const cost = constraintCost(host, lastTokens);
      // what the ratio is when the constraint's warm cost adds to each unconstrained token's time
      const implied = 1 / (1 + (cost.warm / 1e6) * f);
      const row = `${m.name.padEnd(29)}${String(threads).padStart(7)}${f.toFixed(1).padStart(19)}${c.toFixed(1).padStart(17)}${(c / f).toFixed(2).padStart(7)}${cold.toFixed(1).padStart(22)}${cost.warm.toFixed(0).padStart(10)}${cost.cold.toFixed(0).padStart(10)}${implied.toFixed(2).padStart(9)}`;
      console.log(`${row}   best: ${fBest.toFixed(1)} / ${cBest.toFixed(1)} = ${(cBest / fBest).toFixed(2)}`);
      rows.push(`| ${m.name} | ${threads} | ${f.toFixed(1)} | ${c.toFixed(1)} | ${(c / f).toFixed(2)}x | ${fBest.toFixed(1)} | ${cBest.toFixed(1)} | ${(cBest / fBest).toFixed(2)}x | ${cold.toFixed(1)} | ${cost.warm.toFixed(0)} | ${cost.cold.toFixed(0)} | ${implied.toFixed(2)}x |`);
    } finally {
      model.dispose();
    }
  }
}
console.log(`\n| model | threads | unconstrained tok/s (median) | constrained (median) | ratio | unconstrained (best run) | constrained (best run) | ratio | first constrained run | constraint µs/token, warm | cold | implied ratio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}`);
