// What a generation returns besides text: the finish reason and usage on its last item, log-probabilities,
// complete(), abort as a finish; and what loading reports: progress, Blob/File sources, the built-in model.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logProb } from '../../src/eval/perplexity.js';
import type { GeneratedToken, GenerateOptions } from '../../src/generate/generate.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { freePort } from '../runtimes/hosts.js';
import { rejection, thrownBy } from '../util/errors.js';
import { convertFixture, loadWithByteTokenizer } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

async function items(model: Model, prompt: string | number[], opts: GenerateOptions): Promise<GeneratedToken[]> {
  const out: GeneratedToken[] = [];
  for await (const item of model.generate(prompt, opts)) out.push(item);
  return out;
}

const textOf = (xs: GeneratedToken[]) => xs.map((x) => x.text).join('');

describe('finish reason and usage', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadWithByteTokenizer();
  });
  afterAll(() => model.dispose());

  it("'length': only the last item carries finishReason and usage, and usage counts what happened", async () => {
    const xs = await items(model, 'Hello', { maxTokens: 10, seed: 1, stopAtEos: false });
    expect(xs).toHaveLength(10);
    for (const x of xs.slice(0, -1)) {
      expect(x.finishReason).toBeUndefined();
      expect(x.usage).toBeUndefined();
    }
    const last = xs[9];
    expect(last.finishReason).toBe('length');
    expect(last.usage!.promptTokens).toBe(model.tokenizer!.encode('Hello').length);
    expect(last.usage!.generatedTokens).toBe(10);
    expect(last.usage!.prefillMs).toBeGreaterThanOrEqual(0);
    expect(last.usage!.decodeMs).toBeGreaterThan(0);
    expect(xs.every((x) => x.token >= 0 && x.logprob === undefined && x.topLogprobs === undefined)).toBe(true);
  });

  it("'stop': the last item ends the text before the stop string", async () => {
    const opts = { temperature: 0, maxTokens: 40, stopAtEos: false };
    const free = textOf(await items(model, 'The', opts));
    const stop = free.slice(10, 13);
    const xs = await items(model, 'The', { ...opts, stop });
    expect(textOf(xs)).toBe(free.slice(0, free.indexOf(stop)));
    expect(xs.at(-1)!.finishReason).toBe('stop');
    expect(xs.at(-1)!.usage!.generatedTokens).toBe(xs.length);
  });

  it("'eos': a generation that samples the end-of-sequence token still ends with an item, holding that token", async () => {
    const eos = model.eosTokenId!;
    expect(eos).not.toBeNull();
    // near-uniform sampling over the 257 byte-tokenizer ids reaches EOS within a few thousand tokens
    let found: GeneratedToken[] | null = null;
    for (let seed = 1; seed <= 5 && !found; seed++) {
      const xs = await items(model, 'x', { temperature: 100, topK: 0, topP: 1, seed, maxTokens: 4000 });
      if (xs.at(-1)!.finishReason === 'eos') found = xs;
    }
    expect(found).not.toBeNull();
    const last = found!.at(-1)!;
    expect(last.token).toBe(eos);
    expect(last.usage!.generatedTokens).toBe(found!.length);
    expect(found!.slice(0, -1).every((x) => x.token !== eos)).toBe(true);
  });

  it("maxTokens 0 yields one last item with no token, 'length'", async () => {
    const xs = await items(model, 'Hi', { maxTokens: 0 });
    expect(xs).toEqual([{ token: -1, text: '', finishReason: 'length', usage: expect.objectContaining({ generatedTokens: 0, promptTokens: 2 }) }]);
  });

  it("abort: 'finish' ends with finishReason 'abort' and keeps the text so far; 'throw' (the default) rejects", async () => {
    const ac = new AbortController();
    const xs: GeneratedToken[] = [];
    for await (const x of model.generate('abc', { maxTokens: 1000, stopAtEos: false, seed: 2, signal: ac.signal, abort: 'finish' })) {
      xs.push(x);
      if (xs.length === 5) ac.abort();
    }
    expect(xs).toHaveLength(6);
    expect(xs[5]).toMatchObject({ token: -1, finishReason: 'abort', usage: { generatedTokens: 5 } });
    const free = await model.complete('abc', { maxTokens: 5, stopAtEos: false, seed: 2 });
    expect(textOf(xs)).toBe(free.text);
    const e = await rejection(model.complete('abc', { maxTokens: 5, signal: AbortSignal.abort() }));
    expect(e.code).toBe('ABORTED');
    const early = await model.complete('abc', { signal: AbortSignal.abort(), abort: 'finish' });
    expect(early).toMatchObject({ text: '', tokens: [], finishReason: 'abort', usage: { promptTokens: 0, generatedTokens: 0 } });
  });

  it('complete() returns what the streamed items add up to', async () => {
    const opts = { maxTokens: 24, seed: 9, stopAtEos: false, temperature: 1.2 };
    const xs = await items(model, 'Once', opts);
    const c = await model.complete('Once', opts);
    expect(c.text).toBe(textOf(xs));
    expect(c.tokens).toEqual(xs.map((x) => x.token));
    expect(c.finishReason).toBe('length');
    expect(c.usage.generatedTokens).toBe(c.tokens.length);
  });
});

describe('log-probabilities', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadWithByteTokenizer();
  });
  afterAll(() => model.dispose());

  it("are the model's log softmax of each chosen token, whatever the penalty, temperature and truncation", async () => {
    const prompt = model.tokenizer!.encode('The cat');
    const xs = await items(model, prompt, { maxTokens: 6, seed: 3, temperature: 1.5, topK: 5, repetitionPenalty: 2, stopAtEos: false, logprobs: true });
    // replay: feed the same tokens and read the raw logits (over the ids the tokenizer can decode)
    const s = model.createSession();
    let logits = s.feed(prompt);
    for (const x of xs) {
      expect(x.logprob).toBeCloseTo(logProb(logits.subarray(0, 257), x.token), 5);
      expect(x.topLogprobs).toBeUndefined();
      logits = s.feed([x.token]);
    }
    s.dispose();
  });

  it('logprobs: n adds the n most likely tokens, best first; greedy picks the first of them', async () => {
    const xs = await items(model, 'The', { maxTokens: 5, temperature: 0, stopAtEos: false, logprobs: 4 });
    for (const x of xs) {
      const top = x.topLogprobs!;
      expect(top).toHaveLength(4);
      for (let i = 1; i < 4; i++) expect(top[i].logprob).toBeLessThanOrEqual(top[i - 1].logprob);
      expect(top[0].token).toBe(x.token);
      expect(top[0].logprob).toBe(x.logprob);
      expect(top.every((t) => t.logprob <= 0 && t.text === model.tokenizer!.decode([t.token]))).toBe(true);
    }
  });
});

describe('option and token id checks', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadWithByteTokenizer();
  });
  afterAll(() => model.dispose());

  it('name what is wrong: a string is "not a number", a fraction "not an integer"', async () => {
    const cases: [unknown, RegExp][] = [
      [{ maxTokens: '5' }, /maxTokens: "5" is not a number/],
      [{ maxTokens: 1.5 }, /maxTokens: 1.5 is not an integer/],
      [{ seed: '1' }, /seed: "1" is not a number/],
      [{ topK: '40' }, /topK: "40" is not a number/],
      [{ temperature: '0.5' }, /temperature: "0.5" is not a number/],
      [{ abort: 'stop' }, /abort: "stop"/],
      [{ logprobs: 'yes' }, /logprobs/],
      [{ logprobs: 1000 }, /logprobs: 1000 \(an integer in \[0, 100\]\)/],
      [null, /options must be an object/],
    ];
    for (const [o, re] of cases) {
      const e = await rejection(model.complete('hi', o as GenerateOptions));
      expect(e.code).toBe('BAD_ARGUMENT');
      expect(e.message).toMatch(re);
    }
    expect((await rejection(model.complete(42 as never))).message).toMatch(/prompt must be a string or an array of token ids/);
  });

  it('token ids: "not a number", "not an integer", outside the vocabulary, each naming the position', async () => {
    const s = model.createSession();
    expect(thrownBy(() => s.feed([1, '5' as never])).message).toBe('token id "5" at position 1 is not a number');
    expect(thrownBy(() => s.feed([1.5])).message).toBe('token id 1.5 at position 0 is not an integer');
    expect(thrownBy(() => s.feed([0, 0, -1])).message).toMatch(/token id -1 at position 2 is outside the vocabulary/);
    s.dispose();
    expect((await rejection(model.complete([NaN]))).message).toMatch(/not a number/);
  });
});

describe('loading', () => {
  let path: string;
  beforeAll(async () => {
    path = await convertFixture('bimamba-tiny');
  });
  const greedy = async (m: Model) => (await m.complete([1, 2, 3], { temperature: 0, maxTokens: 8, stopAtEos: false })).tokens;

  it('onProgress reports bytes read, rising to the file size', async () => {
    const seen: { loaded: number; total: number }[] = [];
    const model = await loadModel(path, { wasm: WASM, onProgress: (p) => seen.push(p) });
    model.dispose();
    const size = statSync(path).size;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.total === size)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i].loaded).toBeGreaterThanOrEqual(seen[i - 1].loaded);
    expect(seen.at(-1)!.loaded).toBe(size);
    expect(seen[0].loaded).toBeLessThan(size); // the first call comes once the header is read
    const e = await rejection(loadModel(path, { wasm: WASM, onProgress: 'yes' as never }));
    expect(e.message).toMatch(/onProgress must be a function/);
  });

  it('a Blob and a File load like the path, and progress knows their size', async () => {
    const bytes = readFileSync(path);
    const want = await loadModel(path, { wasm: WASM }).then(async (m) => [await greedy(m), m.dispose()][0]);
    const blob = new Blob([bytes]);
    const totals: number[] = [];
    const fromBlob = await loadModel(blob, { wasm: WASM, onProgress: (p) => totals.push(p.total) });
    expect(await greedy(fromBlob)).toEqual(want);
    fromBlob.dispose();
    expect(new Set(totals)).toEqual(new Set([bytes.length]));
    const file = new File([bytes.subarray(0, 1000)], 'cut.bimamba');
    const e = await rejection(loadModel(file, { wasm: WASM }));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/^cut\.bimamba: /); // errors name the file
  });

  it('an unreachable URL is a BimambaError naming it', async () => {
    const url = `http://127.0.0.1:${await freePort()}/model.bimamba`; // nothing listens there
    const e = await rejection(loadModel(url, { wasm: WASM }));
    expect(e.code).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(new RegExp(`^cannot fetch ${url}: fetch failed \\(.*ECONNREFUSED`));
  });

  it('loadModel() with no source loads the built-in model shipped beside the sources', async () => {
    const builtIn = fileURLToPath(new URL('../../models/default.bimamba', import.meta.url));
    const a = await loadModel(undefined, { wasm: WASM });
    const b = await loadModel(builtIn, { wasm: WASM });
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(await greedy(a)).toEqual(await greedy(b));
    a.dispose();
    b.dispose();
  });
});
