// TEMPORARY: finish reason and usage on the last generated item, until generate() reports them itself.
// Delete this file once it does, and call model.generate() directly in completion.ts.
import { promptIds, type GeneratedToken, type GenerateOptions } from '../generate/generate.js';
import type { Model } from '../model/model.js';

export type FinishReason = 'eos' | 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
}

export interface Item extends GeneratedToken {
  logprob?: number;
  topLogprobs?: { token: number; text: string; logprob: number }[];
  finishReason?: FinishReason;
  usage?: Usage;
}

export async function* generateWithResult(model: Model, prompt: string | number[], options: GenerateOptions & { maxTokens: number }): AsyncGenerator<Item> {
  const t0 = performance.now();
  const promptTokens = typeof prompt === 'string' ? promptIds(model, prompt, options.addBos).length : prompt.length;
  let tFirst = 0;
  let previous: Item | null = null;
  let n = 0;
  for await (const item of model.generate(prompt, options)) {
    if (previous) yield previous;
    else tFirst = performance.now();
    previous = { ...item };
    n++;
  }
  const end = performance.now();
  const last: Item = previous ?? { token: model.eosTokenId ?? 0, text: '' };
  last.finishReason = n >= options.maxTokens ? 'length' : 'stop';
  last.usage = { promptTokens, generatedTokens: n, prefillMs: (tFirst || end) - t0, decodeMs: tFirst ? end - tFirst : 0 };
  yield last;
}
