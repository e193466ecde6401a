// The model graph against HF transformers' outputs (float64 reference) for every fixture.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { convertFixture, maxDiff, MODEL_FIXTURES, readExpected, WASM } from './fixtures.js';

async function collect(gen: AsyncGenerator<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const { token } of gen) out.push(token);
  return out;
}

describe.each(MODEL_FIXTURES)('%s', (name) => {
  it('logits at every position match the reference within 1e-3 of the largest logit (f32 file)', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name), { wasm: WASM, exact: true }); // the exact kernels (tests/fast checks the fast path against them)
    expect(model.vocabSize).toBe(e.V);
    const { diff, scale } = maxDiff(model.logits(e.inputIds), e.logits);
    expect(diff).toBeLessThanOrEqual(1e-3 * scale);
    model.dispose();
  });

  it('a session fed 8 tokens, then one at a time, gives the same logits at every position', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name), { wasm: WASM, exact: true }); // the exact kernels (tests/fast checks the fast path against them)
    const V = e.V;
    const got = new Float32Array(e.inputIds.length * V);
    const s = model.createSession();
    const last = s.feed(e.inputIds.slice(0, 8), (t, l) => got.set(l, t * V));
    expect(last).toEqual(got.subarray(7 * V, 8 * V)); // feed returns the last position's logits
    for (let t = 8; t < e.inputIds.length; t++) got.set(s.feed([e.inputIds[t]]), t * V);
    const { diff, scale } = maxDiff(got, e.logits);
    expect(diff).toBeLessThanOrEqual(1e-3 * scale);
    expect(s.tokensSeen).toBe(e.inputIds.length);
    model.dispose();
  });

  it('greedy generation yields exactly the reference tokens', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name), { wasm: WASM });
    const tokens = await collect(model.generate(e.greedyPrompt, { temperature: 0, maxTokens: 20, stopAtEos: false }));
    expect(tokens).toEqual(e.greedyTokens);
    model.dispose();
  });

  it('with f16 weights and an f16 head, logits stay within 1e-2 of the largest logit', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name, { dtype: 'f16', head: 'f16' }), { wasm: WASM });
    const { diff, scale } = maxDiff(model.logits(e.inputIds), e.logits);
    expect(diff).toBeLessThanOrEqual(1e-2 * scale);
    model.dispose();
  });

  it('with an int8 head (per-row absmax), logits stay within 5e-2 of the largest logit', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name, { head: 'int8' }), { wasm: WASM });
    const { diff, scale } = maxDiff(model.logits(e.inputIds), e.logits);
    expect(diff).toBeLessThanOrEqual(5e-2 * scale);
    model.dispose();
  });
});

describe('prefill chunking', () => {
  it('chunks of 1, 5 and 64 tokens give the same logits (f32 state; a bf16 one is rounded once per chunk: tests/model/state-type.test.ts)', async () => {
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny');
    const results = [];
    for (const prefillChunk of [1, 5, 64]) {
      const model = await loadModel(path, { wasm: WASM, prefillChunk, stateType: 'f32' });
      results.push(model.logits(e.inputIds));
      model.dispose();
    }
    for (const r of results.slice(1)) expect(maxDiff(r, results[0]).diff).toBeLessThanOrEqual(1e-5 * maxDiff(r, results[0]).scale);
  });
});
