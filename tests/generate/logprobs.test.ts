// Log-probability helpers against plain references: a full sort for the top n, a direct sum for the normalizer.
import { describe, expect, it } from 'vitest';
import { logNormalizer, topIds } from '../../src/generate/logprobs.js';
import { Rng } from '../util/rng.js';

describe('topIds', () => {
  it('equals the first n of a full sort (value descending, lower id first on ties), at awkward sizes', () => {
    const rng = new Rng(17);
    for (const size of [1, 2, 7, 33, 257, 1001]) {
      // few distinct values, so ties are common
      const logits = Float32Array.from({ length: size }, () => Math.floor(rng.next() * 9) - 4);
      const sorted = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
      for (const n of [0, 1, 3, 20, size, size + 5]) expect(topIds(logits, n)).toEqual(sorted.slice(0, n));
    }
  });
});

describe('logNormalizer', () => {
  it('is log Σ exp, finite for logits far beyond exp() range, and makes probabilities that sum to 1', () => {
    const rng = new Rng(5);
    const logits = Float32Array.from({ length: 513 }, () => rng.next() * 20 - 10);
    const direct = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
    expect(logNormalizer(logits)).toBeCloseTo(direct, 10);
    const huge = Array.from(logits, (x) => x + 1000); // exp(1000) is Infinity: the shift by the max keeps it finite
    expect(logNormalizer(huge)).toBeCloseTo(direct + 1000, 8);
    const z = logNormalizer(huge);
    expect(huge.reduce((s, x) => s + Math.exp(x - z), 0)).toBeCloseTo(1, 10);
  });
});
