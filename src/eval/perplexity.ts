// Perplexity as the paper evaluates it: the text's tokens cut into non-overlapping windows, each run
// from a fresh state; ppl = exp(mean negative log-likelihood of every token predicted from its window).
import { BimambaError } from '../errors.js';
import { logNormalizer } from '../generate/logprobs.js';
import type { Model } from '../model/model.js';

export interface PerplexityResult {
  ppl: number;
  /** Mean negative log-likelihood per predicted token (nats). */
  nll: number;
  /** Tokens predicted (each window's first token is only context). */
  predicted: number;
  windows: number;
}

/** log softmax(logits)[target], in float64. */
export function logProb(logits: Float32Array, target: number): number {
  return logits[target] - logNormalizer(logits);
}

/** Perplexity of `ids`; awaits between windows so progress can be drawn and the host stays responsive. */
export async function perplexity(model: Model, ids: number[], window = 2048, onWindow?: (done: number, total: number) => void): Promise<PerplexityResult> {
  if (!Number.isInteger(window) || window < 2) throw new BimambaError('BAD_ARGUMENT', `invalid window: ${window} (an integer ≥ 2)`);
  if (ids.length < 2) throw new BimambaError('BAD_ARGUMENT', `the text has ${ids.length} token(s); perplexity needs at least 2`);
  const windows = Math.ceil(ids.length / window);
  let nllSum = 0;
  let predicted = 0;
  for (let w = 0; w < windows; w++) {
    const chunk = ids.slice(w * window, (w + 1) * window);
    if (chunk.length < 2) break; // a last window of one token predicts nothing
    const session = model.createSession();
    try {
      session.feed(chunk, (t, logits) => {
        if (t + 1 < chunk.length) { nllSum -= logProb(logits, chunk[t + 1]); predicted++; }
      });
    } finally {
      session.dispose();
    }
    onWindow?.(w + 1, windows);
    await new Promise((r) => setTimeout(r, 0));
  }
  const nll = nllSum / predicted;
  return { ppl: Math.exp(nll), nll, predicted, windows };
}
