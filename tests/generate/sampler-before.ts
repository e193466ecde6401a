// The sampler as it was before it selected candidates instead of sorting the vocabulary: sorts every id
// each token. Kept only as the reference that tests/generate/sampler.test.ts compares seeded draws against.
import type { Rng } from '../../src/generate/rng.js';
import type { ResolvedSampling } from '../../src/generate/sampler.js';

const F32_MAX = 3.4028234663852886e38;

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Pick the next token. `logits` is modified (penalty applied); `recent` are the tokens to penalise. */
export function sampleBefore(logits: Float32Array, o: ResolvedSampling, rng: Rng, recent: readonly number[]): number {
  if (o.repetitionPenalty !== 1) {
    for (const t of new Set(recent)) {
      if (t >= logits.length) continue;
      const v = logits[t];
      // clamped to the finite f32 range: an extreme penalty must not make an infinity (and then NaN)
      logits[t] = Math.max(-F32_MAX, Math.min(F32_MAX, v > 0 ? v / o.repetitionPenalty : v * o.repetitionPenalty));
    }
  }
  if (o.temperature === 0) return argmax(logits);

  // candidates sorted by logit, best first (top-k first, to sort less)
  let ids = Array.from(logits.keys());
  ids.sort((a, b) => logits[b] - logits[a] || a - b);
  if (o.topK > 0) ids = ids.slice(0, o.topK);

  // softmax at this temperature, in float64, shifted by the max so it stays finite
  const max = logits[ids[0]];
  const p = ids.map((i) => Math.exp((logits[i] - max) / o.temperature));
  let total = p.reduce((a, b) => a + b, 0);
  let keep = ids.length;
  if (o.topP < 1) {
    let acc = 0;
    for (let i = 0; i < keep; i++) {
      acc += p[i] / total;
      if (acc >= o.topP) { keep = i + 1; break; }
    }
  }
  if (o.minP > 0) {
    const floor = o.minP * p[0];
    let i = 1;
    while (i < keep && p[i] >= floor) i++;
    keep = i;
  }
  total = 0;
  for (let i = 0; i < keep; i++) total += p[i];
  let u = rng.next() * total;
  for (let i = 0; i < keep; i++) {
    u -= p[i];
    if (u < 0) return ids[i];
  }
  return ids[keep - 1];
}
