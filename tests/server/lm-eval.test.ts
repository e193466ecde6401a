// What lm-evaluation-harness's `local-completions` model sends for loglikelihood (its
// openai_completions.py: echo, max_tokens 1, logprobs 1, temperature 0, a seed, the prompt as a list of
// one token-id list), answered with every prompt token's log-probability: checked against model.logits()
// the way the harness reads them (token_logprobs[ctxlen:-1], top_logprobs[ctxlen:-1] for is_greedy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { createApp } from '../../src/server/app.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
  app = createApp({ model, modelName: 'default' });
});
afterAll(() => model?.dispose());

interface Legacy {
  text: string;
  logprobs: { tokens: string[]; token_logprobs: Array<number | null>; top_logprobs: Array<Record<string, number> | null>; text_offset: number[] } | null;
}

async function completions(body: Record<string, unknown>): Promise<{ status: number; json: { choices: Legacy[]; usage: { prompt_tokens: number }; error?: { param: string } } }> {
  const r = await app.fetch(new Request('http://local/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
  return { status: r.status, json: await r.json() };
}

/** log softmax of each position's logits, in float64. */
function logSoftmaxRows(logits: Float32Array, V: number): Float64Array[] {
  const rows = [];
  for (let t = 0; t < logits.length / V; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const logZ = max + Math.log(sum);
    rows.push(Float64Array.from(row, (x) => x - logZ));
  }
  return rows;
}

describe("lm-evaluation-harness's loglikelihood requests", () => {
  it('are answered with the prompt logprobs of model.logits() (within 1e-4), no BOS added, is_greedy as the harness reads it', async () => {
    const tok = model.tokenizer!;
    const context = tok.encode('Question: What color is the sky on a clear day?\nAnswer:');
    for (const continuation of [' blue', ' a bright green cheese']) {
      const cont = tok.encode(continuation);
      const ids = [...context, ...cont];
      const ctxlen = context.length;
      // exactly the harness's payload (LocalCompletionsAPI._create_payload with generate=False)
      const { status, json } = await completions({ model: 'default', prompt: [ids], temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });
      expect(status).toBe(200);
      const lp = json.choices[0].logprobs!;
      expect(lp.token_logprobs).toHaveLength(ids.length + 1); // the prompt exactly as given, then the one generated token
      expect(lp.token_logprobs[0]).toBeNull();
      expect(json.usage.prompt_tokens).toBe(ids.length);
      const rows = logSoftmaxRows(model.logits(ids), model.vocabSize);
      for (let i = 1; i < ids.length; i++) expect(Math.abs((lp.token_logprobs[i] as number) - rows[i - 1][ids[i]])).toBeLessThan(1e-4);
      // the harness's parse_logprobs
      const tokenLogprobs = lp.token_logprobs.slice(ctxlen, -1) as number[];
      const top = lp.top_logprobs.slice(ctxlen, -1) as Record<string, number>[];
      const sum = tokenLogprobs.reduce((a, b) => a + b, 0);
      let expectedSum = 0;
      let greedy = true;
      for (let i = ctxlen; i < ids.length; i++) {
        expectedSum += rows[i - 1][ids[i]];
        let best = 0;
        for (let v = 1; v < rows[i - 1].length; v++) if (rows[i - 1][v] > rows[i - 1][best]) best = v;
        if (best !== ids[i]) greedy = false;
      }
      expect(Math.abs(sum - expectedSum)).toBeLessThan(1e-4 * cont.length);
      const isGreedy = tokenLogprobs.every((t, k) => t === Math.max(...Object.values(top[k])));
      expect(isGreedy).toBe(greedy);
      expect(top.every((t) => Object.keys(t).length === 1)).toBe(true);
    }
  });

  it('echo a text prompt with right text_offsets, top alternatives for prompt tokens, and max_tokens 0', async () => {
    const prompt = 'The cat sat on the mat.';
    const { status, json } = await completions({ model: 'default', prompt, max_tokens: 0, logprobs: 3, echo: true, temperature: 0 });
    expect(status).toBe(200);
    const c = json.choices[0];
    expect(c.text).toBe(prompt);
    const lp = c.logprobs!;
    expect(lp.tokens.join('')).toBe(prompt);
    for (let i = 0; i < lp.tokens.length; i++) expect(prompt.slice(lp.text_offset[i], lp.text_offset[i] + lp.tokens[i].length)).toBe(lp.tokens[i]);
    expect(lp.top_logprobs[0]).toBeNull();
    expect(lp.top_logprobs.slice(1).every((t) => Object.keys(t!).length >= 1 && Object.keys(t!).length <= 3)).toBe(true);
    // with a completion after it, offsets go on past the prompt
    const more = await completions({ model: 'default', prompt, max_tokens: 3, logprobs: 0, echo: true, temperature: 0 });
    const m = more.json.choices[0];
    expect(m.text.startsWith(prompt)).toBe(true);
    expect(m.logprobs!.text_offset[lp.tokens.length]).toBe(prompt.length);
    // echo without logprobs: the text only; echo with stream: refused naming echo
    expect((await completions({ model: 'default', prompt, max_tokens: 0, echo: true })).json.choices[0].logprobs).toBeNull();
    const refused = await completions({ model: 'default', prompt, max_tokens: 1, echo: true, stream: true });
    expect(refused.status).toBe(400);
    expect(refused.json.error!.param).toBe('echo');
    expect((await completions({ model: 'default', prompt, echo: 'yes' })).json.error!.param).toBe('echo');
  });
});
