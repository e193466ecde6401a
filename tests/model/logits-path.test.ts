// A decoded token's logits: the forward pass leaves them in the session's block, and sampling reads them
// there. Nothing vocabulary-sized is copied out to JavaScript unless a caller asks (feed()'s return value,
// lastLogits(), logprobs), and within WASM memory they are copied only when something changes them before
// the draw (the repetition penalty), so the session's own logits are never changed by sampling.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { Session } from '../../src/model/session.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

afterEach(() => vi.restoreAllMocks());

/** Float32Array copies of at least `n` values made while `run` runs. */
async function copiesDuring(n: number, run: () => Promise<unknown>): Promise<number> {
  let copies = 0;
  const slice = Float32Array.prototype.slice;
  vi.spyOn(Float32Array.prototype, 'slice').mockImplementation(function (this: Float32Array, ...args: [number?, number?]) {
    const out = slice.apply(this, args);
    if (out.length >= n) copies++;
    return out;
  });
  await run();
  return copies;
}

describe('the logits of a decoded token', () => {
  it('are sampled where they lie: no vocabulary-sized copy for a whole generation, greedy or sampled', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const lastLogits = vi.spyOn(Session.prototype, 'lastLogits');
    for (const temperature of [0, 0.8]) {
      const copies = await copiesDuring(model.vocabSize, () => model.complete([1, 2, 3], { temperature, maxTokens: 12, seed: 3, stopAtEos: false }));
      expect(copies, `temperature ${temperature}`).toBe(0);
    }
    expect(lastLogits).not.toHaveBeenCalled();
    model.dispose();
  });

  it('copied out only when asked: logprobs take one copy a token', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const copies = await copiesDuring(model.vocabSize, () => model.complete([1, 2, 3], { temperature: 0, maxTokens: 5, logprobs: true, stopAtEos: false }));
    expect(copies).toBe(5);
    model.dispose();
  });

  it("the view sampling reads is the session's own logits, and a writable one a copy beside them that leaves them alone", async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const s = model.createSession();
    s.feed([4, 5, 6]);
    const V = model.vocabSize;
    const block = s.stateView();
    const own = s.samplingLogits(V, false);
    expect(own.buffer).toBe(block.buffer);
    expect(own.byteOffset).toBe(block.byteOffset + block.byteLength - 4 * V); // the last logits end the block
    expect(own).toEqual(s.lastLogits());
    const writable = s.samplingLogits(V, true);
    expect(writable.byteOffset).not.toBe(own.byteOffset);
    writable.fill(-Infinity);
    expect(s.lastLogits().every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it('a repetition penalty changes the copy, never the session: a caller\'s session keeps the logits of its last token', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const a = model.createSession();
    const fed = await model.complete([1, 2, 3], { session: a, temperature: 0, maxTokens: 6, repetitionPenalty: 3, stopAtEos: false });
    // the same logits as feeding the same tokens to a fresh session, as generation fed them
    const fresh = model.createSession();
    fresh.feed([1, 2, 3]);
    for (const t of fed.tokens) fresh.feed([t]);
    expect(a.lastLogits()).toEqual(fresh.lastLogits());
    expect(a.tokensSeen).toBe(9);
    model.dispose();
  });
});
