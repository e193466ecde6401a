// Perplexity over non-overlapping windows, each run from a fresh state. Two ways to average:
//   'tokens' (default): every window, the last one possibly short; ppl = exp(mean NLL over all predicted tokens);
//   'full-windows' (the Bi-Mamba release's protocol, protocol.ts): only full windows, a shorter rest is
//     not evaluated; ppl = exp(mean over windows of each window's mean NLL).
import { BimambaError } from '../errors.js';
import { paddingRows } from '../format/padding.js';
import { logNormalizer } from '../generate/logprobs.js';
import type { Model } from '../model/model.js';

export interface PerplexityResult {
  ppl: number;
  /** Mean negative log-likelihood per predicted token (nats). */
  nll: number;
  /** Tokens predicted (each window's first token is only context). */
  predicted: number;
  windows: number;
  /** Mean NLL of each window (nats). */
  windowLosses: number[];
  /**
   * The token ids the softmax runs over: the model's vocabulary, or the tokenizer's ids where the rest are
   * padding (src/format/padding.ts; no text encodes to them, as none is sampled).
   */
  scoredIds: number;
}

export interface PerplexityOptions {
  window?: number;
  average?: 'tokens' | 'full-windows';
  onWindow?: (done: number, total: number) => void;
}

/** log softmax(logits)[target], in float64. */
export function logProb(logits: Float32Array, target: number): number {
  return logits[target] - logNormalizer(logits);
}

/** Perplexity of `ids`; awaits between windows so progress can be drawn and the host stays responsive. */
export async function perplexity(model: Model, ids: number[], windowOrOptions: number | PerplexityOptions = {}, onProgress?: (done: number, total: number) => void): Promise<PerplexityResult> {
  const options = typeof windowOrOptions === 'number' ? { window: windowOrOptions, onWindow: onProgress } : windowOrOptions;
  const { window = 2048, average = 'tokens', onWindow } = options;
  if (!Number.isInteger(window) || window < 2) throw new BimambaError('BAD_ARGUMENT', `invalid window: ${window} (an integer ≥ 2)`);
  if (ids.length < 2) throw new BimambaError('BAD_ARGUMENT', `the text has ${ids.length} token(s); perplexity needs at least 2`);
  const fullOnly = average === 'full-windows';
  const windows = fullOnly ? Math.floor(ids.length / window) : Math.ceil(ids.length / window);
  if (windows === 0) throw new BimambaError('BAD_ARGUMENT', `the text has ${ids.length} tokens, fewer than one window of ${window} (only full windows are evaluated)`);
  const scoredIds = model.vocabSize - (model.tokenizer ? paddingRows(model.vocabSize, model.tokenizer.vocabSize) : 0);
  let nllSum = 0;
  let predicted = 0;
  const windowLosses: number[] = [];
  for (let w = 0; w < windows; w++) {
    const chunk = ids.slice(w * window, (w + 1) * window);
    if (chunk.length < 2) break; // a last window of one token predicts nothing
    let windowSum = 0;
    const session = model.createSession();
    try {
      session.feed(chunk, (t, logits) => {
        if (t + 1 < chunk.length) windowSum -= logProb(logits.subarray(0, scoredIds), chunk[t + 1]);
      });
    } finally {
      session.dispose();
    }
    nllSum += windowSum;
    predicted += chunk.length - 1;
    windowLosses.push(windowSum / (chunk.length - 1));
    onWindow?.(w + 1, windows);
    await new Promise((r) => setTimeout(r, 0));
  }
  const nll = fullOnly ? windowLosses.reduce((a, b) => a + b, 0) / windowLosses.length : nllSum / predicted;
  return { ppl: Math.exp(nll), nll, predicted, windows: windowLosses.length, windowLosses, scoredIds };
}
