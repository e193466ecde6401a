// Log-probabilities under the model's own distribution: log softmax of the raw logits, before the
// repetition penalty, temperature and truncation reshape it for sampling (as OpenAI and llama.cpp
// report them, and as perplexity counts them), so they do not change with the sampling options.

/** log Σ exp(logits), in float64, shifted by the max so it stays finite: logprob(i) = logits[i] - this. */
export function logNormalizer(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** The ids of the n largest logits, best first (ties: lower id first). */
export function topIds(logits: ArrayLike<number>, n: number): number[] {
  const best: number[] = []; // kept sorted, at most n long
  for (let i = 0; i < logits.length && n > 0; i++) {
    if (best.length === n && logits[i] <= logits[best[n - 1]]) continue;
    let j = Math.min(best.length, n - 1);
    while (j > 0 && logits[best[j - 1]] < logits[i]) j--;
    best.splice(j, 0, i);
    if (best.length > n) best.pop();
  }
  return best;
}
