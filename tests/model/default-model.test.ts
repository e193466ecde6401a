// The built-in model (models/default.bimamba): its held-out perplexity equals the PyTorch figure that
// training/results.json records, within 0.5 %, computed the way `bimamba ppl` computes it. The
// held-out file is 82k tokens (41 windows of 2048): one to two minutes on two idle cores, several on busy ones.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { loadModel } from '../../src/model/model.js';
import { WASM } from './fixtures.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

describe('built-in model', () => {
  it('held-out perplexity matches PyTorch within 0.5 %', async () => {
    const results = JSON.parse(readFileSync(root('training/results.json'), 'utf8'));
    const model = await loadModel(root(results.shipped.file), { wasm: WASM, prefillChunk: 256 });
    const ids = model.tokenizer!.encode(readFileSync(root(results.heldout_file), 'utf8'));
    expect(ids.length).toBe(results.heldout_tokens);
    const r = await perplexity(model, ids, 2048);
    const want = results.shipped.pytorch_heldout_ppl;
    expect(Math.abs(r.ppl - want) / want).toBeLessThan(0.005);
    model.dispose();
  }, 900_000);

  it('the fast kernels generate the same 64 greedy tokens as the exact ones, for 5 prompts', async () => {
    const path = root(JSON.parse(readFileSync(root('training/results.json'), 'utf8')).shipped.file);
    const fast = await loadModel(path, { wasm: WASM });
    const exact = await loadModel(path, { wasm: WASM, exact: true });
    expect(fast.exact).toBe(false);
    expect(exact.exact).toBe(true);
    const prompts = ['The history of the world', 'In the beginning God created', 'She opened the door and', 'The committee voted to', 'It was a dark night, and'];
    const greedy = async (m: typeof fast, p: string) => {
      const out: number[] = [];
      for await (const { token } of m.generate(p, { temperature: 0, maxTokens: 64, stopAtEos: false })) out.push(token);
      return out;
    };
    for (const p of prompts) {
      const want = await greedy(exact, p);
      expect(want).toHaveLength(64);
      expect(await greedy(fast, p)).toEqual(want);
    }
    fast.dispose();
    exact.dispose();
  });
});
