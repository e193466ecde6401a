// Generation from text: streaming, stop strings, seeds, and the errors users meet.
import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/model/model.js';
import { rejection, thrownBy } from '../util/errors.js';
import { loadWithByteTokenizer } from '../util/fixtures.js';

async function run(model: Model, prompt: string | number[], opts: Parameters<Model['generate']>[1]) {
  const tokens: number[] = [];
  const chunks: string[] = [];
  for await (const { token, text } of model.generate(prompt, opts)) {
    tokens.push(token);
    chunks.push(text);
  }
  return { tokens, chunks, text: chunks.join('') };
}

describe('generate', () => {
  it('streams text whose pieces add up to the decoded tokens, never splitting a character', async () => {
    const model = await loadWithByteTokenizer();
    for (const seed of [1, 2, 3]) {
      const r = await run(model, 'Ünïcödé 😀 ', { temperature: 1.5, seed, maxTokens: 40, stopAtEos: false });
      expect(r.text).toBe(model.tokenizer!.decode(r.tokens));
      for (const c of r.chunks) {
        // a chunk never ends inside a surrogate pair nor holds a replacement char the full text lacks
        expect(/[\uD800-\uDBFF]$/.test(c)).toBe(false);
        if (!r.text.includes('\uFFFD')) expect(c.includes('\uFFFD')).toBe(false);
      }
    }
    model.dispose();
  });

  it('the same seed gives the same tokens; another seed, others', async () => {
    const model = await loadWithByteTokenizer();
    const a = await run(model, 'Hello', { temperature: 1, seed: 42, maxTokens: 30, stopAtEos: false });
    const b = await run(model, 'Hello', { temperature: 1, seed: 42, maxTokens: 30, stopAtEos: false });
    const c = await run(model, 'Hello', { temperature: 1, seed: 43, maxTokens: 30, stopAtEos: false });
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
    model.dispose();
  });

  it('stops at a stop string and does not emit it', async () => {
    const model = await loadWithByteTokenizer();
    const opts = { temperature: 0, maxTokens: 40, stopAtEos: false };
    const free = await run(model, 'The', opts);
    const stop = free.text.slice(10, 13);
    const cut = free.text.indexOf(stop);
    const stopped = await run(model, 'The', { ...opts, stop: [stop] });
    expect(stopped.text).toBe(free.text.slice(0, cut));
    expect(stopped.tokens.length).toBeLessThan(free.tokens.length);
    model.dispose();
  });

  it('extreme but valid sampling parameters still give valid tokens', async () => {
    const model = await loadWithByteTokenizer();
    for (const o of [{ temperature: 1e-6 }, { temperature: 100 }, { topK: 1 }, { topP: 1e-9 }, { minP: 0.999 }, { repetitionPenalty: 50 }]) {
      const r = await run(model, 'x', { ...o, seed: 1, maxTokens: 5, stopAtEos: false });
      expect(r.tokens).toHaveLength(5);
      for (const t of r.tokens) expect(t >= 0 && t < model.vocabSize).toBe(true);
    }
    model.dispose();
  });
});

describe('long prompts', () => {
  it('reads a long prompt in slices, giving the host turns between them, with the same tokens as one feed', async () => {
    const model = await loadWithByteTokenizer();
    const prompt = Array.from({ length: 2000 }, (_, i) => 32 + ((i * 7) % 90));
    // the reference: the whole prompt in one feed, then greedy decoding by hand
    const s = model.createSession();
    let logits = s.feed(prompt);
    const expected: number[] = [];
    const samplable = Math.min(model.vocabSize, model.tokenizer!.vocabSize); // generate never picks an id the tokenizer lacks
    for (let i = 0; i < 5; i++) {
      let best = 0;
      for (let v = 1; v < samplable; v++) if (logits[v] > logits[best]) best = v;
      expected.push(best);
      logits = s.feed([best]);
    }
    s.dispose();
    // count the host's turns (macrotasks) that run before the first token comes out
    let turns = 0;
    let spinning = true;
    const spin = () => {
      if (!spinning) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const it = model.generate(prompt, { temperature: 0, maxTokens: 5, stopAtEos: false });
    const first = await it.next();
    const turnsBeforeFirst = turns;
    const rest: number[] = [];
    for await (const { token } of it) rest.push(token);
    spinning = false;
    expect([first.value!.token, ...rest]).toEqual(expected);
    expect(turnsBeforeFirst).toBeGreaterThanOrEqual(7); // 2000 tokens: 8 slices of 256, a turn between each two
    model.dispose();
  });

  it('an abort while a long prompt is read ends the generation there (abort: finish)', async () => {
    const model = await loadWithByteTokenizer();
    const prompt = Array.from({ length: 2000 }, (_, i) => 32 + ((i * 5) % 90));
    const ac = new AbortController();
    setImmediate(() => ac.abort());
    const items = [];
    for await (const item of model.generate(prompt, { temperature: 0, maxTokens: 5, signal: ac.signal, abort: 'finish' })) items.push(item);
    expect(items).toHaveLength(1);
    expect(items[0].finishReason).toBe('abort');
    expect(items[0].usage!.generatedTokens).toBe(0);
    expect(items[0].usage!.promptTokens).toBeLessThan(prompt.length);
    model.dispose();
  });
});

describe('errors', () => {
  it('invalid sampling options are refused with a message naming the option', async () => {
    const model = await loadWithByteTokenizer();
    const cases: [object, RegExp][] = [
      [{ temperature: -1 }, /temperature/],
      [{ temperature: NaN }, /temperature/],
      [{ topK: 1.5 }, /topK/],
      [{ topP: 0 }, /topP/],
      [{ minP: 1 }, /minP/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty/],
      [{ maxTokens: -3 }, /maxTokens/],
      [{ seed: 0.5 }, /seed/],
      [{ stop: [3] }, /stop/],
    ];
    for (const [o, re] of cases) {
      const e = await rejection(run(model, 'hi', o as never));
      expect(e.code).toBe('BAD_ARGUMENT');
      expect(e.message).toMatch(re);
    }
    model.dispose();
  });

  it('token ids outside the vocabulary are refused, naming the position', async () => {
    const model = await loadWithByteTokenizer();
    const e1 = thrownBy(() => model.logits([1, 2, model.vocabSize]));
    expect(e1.code).toBe('BAD_TOKEN');
    expect(e1.message).toMatch(/position 2/);
    const e2 = await rejection(run(model, [5, -1], {}));
    expect(e2.code).toBe('BAD_TOKEN');
    const e3 = thrownBy(() => model.createSession().feed([0.5]));
    expect(e3.code).toBe('BAD_TOKEN');
    model.dispose();
  });

  it('an empty prompt is refused', async () => {
    const model = await loadWithByteTokenizer();
    expect((await rejection(run(model, '', {}))).message).toMatch(/empty/);
    expect((await rejection(run(model, [], {}))).code).toBe('BAD_ARGUMENT');
    model.dispose();
  });

  it('an AbortSignal stops generation promptly, mid-way', async () => {
    const model = await loadWithByteTokenizer();
    const ac = new AbortController();
    const seen: number[] = [];
    const e = await rejection(
      (async () => {
        for await (const { token } of model.generate('abc', { maxTokens: 1000, stopAtEos: false, signal: ac.signal, seed: 1 })) {
          seen.push(token);
          if (seen.length === 5) ac.abort();
        }
      })(),
    );
    expect(e.code).toBe('ABORTED');
    expect(seen.length).toBe(5);
    // a timer-driven abort also gets through: generation yields to the event loop between tokens
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 20);
    const t0 = performance.now();
    const e2 = await rejection(run(model, 'abc', { maxTokens: 1_000_000, stopAtEos: false, signal: ac2.signal }));
    expect(e2.code).toBe('ABORTED');
    expect(performance.now() - t0).toBeLessThan(5000);
    model.dispose();
  });

  it('a model or session used after dispose() says so', async () => {
    const model = await loadWithByteTokenizer();
    const s = model.createSession();
    s.feed([1, 2]);
    model.dispose();
    expect(thrownBy(() => model.logits([1])).code).toBe('DISPOSED');
    expect(thrownBy(() => s.feed([1])).code).toBe('DISPOSED');
    expect(thrownBy(() => model.createSession()).code).toBe('DISPOSED');
    expect((await rejection(run(model, 'x', {}))).code).toBe('DISPOSED');
    const m2 = await loadWithByteTokenizer();
    const s2 = m2.createSession();
    s2.dispose();
    expect(thrownBy(() => s2.snapshot()).code).toBe('DISPOSED');
    m2.dispose();
  });
});
