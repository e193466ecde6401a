// The fast path on whole models: against the exact kernels on every reference fixture.
//
// Stated tolerance: logits within 5e-3 of the largest |logit| of the exact path at every position,
// and the greedy continuation of each fixture exactly the reference's.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { convertFixture, LOGIT_TOLERANCE, maxDiff, MODEL_FIXTURES, readExpected, WASM } from '../model/fixtures.js';

async function collect(gen: AsyncGenerator<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const { token } of gen) out.push(token);
  return out;
}

describe.each(MODEL_FIXTURES)('%s', (name) => {
  for (const head of ['f32', 'int8'] as const) {
    it(`${head} head: fast logits within ${LOGIT_TOLERANCE} of the exact path's largest logit`, async () => {
      const e = readExpected(name);
      const path = await convertFixture(name, { head });
      const fast = await loadModel(path, { wasm: WASM });
      const exact = await loadModel(path, { wasm: WASM, exact: true });
      expect(fast.exact).toBe(false);
      expect(exact.exact).toBe(true);
      const { diff, scale } = maxDiff(fast.logits(e.inputIds), exact.logits(e.inputIds));
      expect(diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * scale);
      fast.dispose();
      exact.dispose();
    });
  }

  it('greedy generation on the fast path yields exactly the reference tokens', async () => {
    const e = readExpected(name);
    const model = await loadModel(await convertFixture(name), { wasm: WASM });
    const tokens = await collect(model.generate(e.greedyPrompt, { temperature: 0, maxTokens: 20, stopAtEos: false }));
    expect(tokens).toEqual(e.greedyTokens);
    model.dispose();
  });
});

describe('fast path', () => {
  it('differs from the exact path on a 1-bit model (it does quantize), by less than the tolerance', async () => {
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny');
    const fast = await loadModel(path, { wasm: WASM });
    const exact = await loadModel(path, { wasm: WASM, exact: true });
    const { diff, scale } = maxDiff(fast.logits(e.inputIds), exact.logits(e.inputIds));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * scale);
    fast.dispose();
    exact.dispose();
  });

  it('gives the same bits whatever the prefill chunk (one token, batches of 16, and the rest), with an f32 state', async () => {
    // chunk 1: the single-token path only; chunk 64: 33 tokens = two batches of 16 and one token
    // (a bf16 state is rounded once per call, so with it the chunking moves the bits: tests/model/state-type.test.ts)
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny', { head: 'int8' });
    const results: Float32Array[] = [];
    for (const prefillChunk of [1, 7, 64]) {
      const model = await loadModel(path, { wasm: WASM, prefillChunk, stateType: 'f32' });
      results.push(model.logits(e.inputIds));
      model.dispose();
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});
