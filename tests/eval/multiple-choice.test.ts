// Multiple choice as lm-evaluation-harness scores it: each choice's log-likelihood equals the sum over
// its tokens of model.logits() of context + continuation; the harness's pairing moves the context's
// trailing spaces to the continuation; acc and acc_norm pick by raw and per-character log-likelihood.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { choiceLoglikelihoods, encodePair, evaluateMultipleChoice } from '../../src/eval/multiple-choice.js';
import { logNormalizer } from '../../src/generate/logprobs.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from '../server/serve.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

describe('multiple choice', () => {
  it("scores each choice with model.logits() of context + continuation, paired as the harness pairs them", () => {
    const item = { context: 'The king had three ', choices: ['sons.', 'hundred golden horses that could fly.'], gold: 0 };
    const pair = encodePair(model, item.context, item.choices[0]);
    const tok = model.tokenizer!;
    expect(pair.context).toEqual([...(model.addBosByDefault ? [model.bosTokenId!] : []), ...tok.encode('The king had three')]);
    const ll = choiceLoglikelihoods(model, item);
    for (const [k, choice] of item.choices.entries()) {
      const { context, continuation } = encodePair(model, item.context, choice);
      const ids = [...context, ...continuation];
      const logits = model.logits(ids);
      const V = model.vocabSize;
      let expected = 0;
      for (let i = context.length; i < ids.length; i++) {
        const row = logits.subarray((i - 1) * V, i * V);
        expected += row[ids[i]] - logNormalizer(row);
      }
      expect(Math.abs(ll[k] - expected)).toBeLessThan(1e-3);
    }
  });

  it('acc picks the best raw log-likelihood, acc_norm the best per character', async () => {
    const items = [{ context: 'One, two, three,', choices: [' four', ' four five six seven eight nine ten eleven'], gold: 1 }];
    const ll = choiceLoglikelihoods(model, items[0]);
    const r = await evaluateMultipleChoice(model, items);
    expect(r.acc).toBe(ll[1] > ll[0] ? 1 : 0);
    expect(r.accNorm).toBe(ll[1] / items[0].choices[1].length > ll[0] / items[0].choices[0].length ? 1 : 0);
  });
});
