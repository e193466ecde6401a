// `--protocol bi-mamba`: the release's perplexity method, against a plain computation written out here.
import { describe, expect, it } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { linesAsRows, protocolIds, readDocuments } from '../../src/eval/protocol.js';
import { thrownBy } from '../util/errors.js';
import { loadWithByteTokenizer } from '../util/fixtures.js';

describe('documents', () => {
  it('a raw text file: each line with its newline, whitespace-only lines empty (as HF datasets reads wikitext)', () => {
    expect(linesAsRows(' \n = Robert Boulter = \n \n Robert Boulter is an actor .\n')).toEqual(['', ' = Robert Boulter = \n', '', ' Robert Boulter is an actor .\n']);
    expect(linesAsRows('a\r\nb\rc')).toEqual(['a\n', 'b\n', 'c']);
    expect(linesAsRows('')).toEqual([]);
  });

  it('.jsonl and .json forms', () => {
    expect(readDocuments('{"text": "a\\n"}\n{"text": ""}\n', 'test.jsonl')).toEqual(['a\n', '']);
    expect(readDocuments('["x", {"text": "y"}]', 'docs.json')).toEqual(['x', 'y']);
    expect(thrownBy(() => readDocuments('{"nope": 1}\n', 'a.jsonl')).message).toMatch(/a\.jsonl, line 1: a document must be/);
    expect(thrownBy(() => readDocuments('{', 'a.json')).code).toBe('BAD_ARGUMENT');
  });

  it('ids: one BOS, then the documents joined by a blank line', () => {
    const encode = (t: string) => [...t].map((c) => c.charCodeAt(0));
    expect(protocolIds(['ab', '', 'c\n'], encode, 1)).toEqual([1, ...encode('ab\n\n\n\nc\n')]);
    expect(thrownBy(() => protocolIds(['a'], encode, null)).code).toBe('UNSUPPORTED');
  });
});

/** log softmax(logits)[target] in float64, written out again. */
function referenceLogProb(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return row[target] - max - Math.log(sum);
}

describe('perplexity with full windows (the protocol) on a small model', () => {
  it('equals exp(mean over full windows of the mean window loss); the short rest is not evaluated', async () => {
    const model = await loadWithByteTokenizer('bimamba-tiny');
    try {
      const tok = model.tokenizer!;
      const docs = linesAsRows(' \n = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 is a tactical role @-@ playing video game .\n'.repeat(6));
      const ids = protocolIds(docs, (t) => tok.encode(t), model.bosTokenId);
      const W = 64;
      expect(ids.length % W).not.toBe(0); // there is a short rest, which must be left out
      const n = Math.floor(ids.length / W);

      const V = model.vocabSize;
      const losses: number[] = [];
      for (let w = 0; w < n; w++) {
        const win = ids.slice(w * W, (w + 1) * W);
        const logits = model.logits(win); // one full forward pass from a fresh state
        let sum = 0;
        for (let t = 0; t + 1 < W; t++) sum -= referenceLogProb(logits.subarray(t * V, (t + 1) * V), win[t + 1]);
        losses.push(sum / (W - 1));
      }
      const expected = Math.exp(losses.reduce((a, b) => a + b, 0) / n);

      const r = await perplexity(model, ids, { window: W, average: 'full-windows' });
      expect(r.windows).toBe(n);
      expect(r.predicted).toBe(n * (W - 1));
      expect(r.windowLosses.length).toBe(n);
      r.windowLosses.forEach((l, i) => expect(l).toBeCloseTo(losses[i], 4));
      expect(Math.abs(r.ppl - expected) / expected).toBeLessThan(1e-4);

      // the default way counts the short last window too, so it differs
      const all = await perplexity(model, ids, { window: W });
      expect(all.windows).toBe(n + 1);
      expect(all.predicted).toBe(ids.length - (n + 1));

      await expect(perplexity(model, ids.slice(0, W - 1), { window: W, average: 'full-windows' })).rejects.toThrow(/fewer than one window/);
    } finally {
      model.dispose();
    }
  });
});
