// Turning logits into the next token: repetition penalty, temperature, top-k, top-p, min-p, then a draw.
import { BimambaError } from '../errors.js';
import { GENERATION_DEFAULTS as D } from './defaults.js';
import type { Rng } from './rng.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 0.8 (every default: GENERATION_DEFAULTS in defaults.ts). */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. Default 40. */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. Default 0.95. */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one; 0 = off (the default). */
  minP?: number;
  /** > 1 makes recently seen tokens less likely (CTRL-style: positive logits divided, negative multiplied). 1 = off (the default). */
  repetitionPenalty?: number;
}

export type ResolvedSampling = Required<SamplingOptions>;

function bad(what: string, value: unknown, rule: string): never {
  throw new BimambaError('BAD_ARGUMENT', `invalid ${what}: ${String(value)} (${rule})`);
}

/** Check sampling options and fill in defaults. */
export function resolveSampling(o: SamplingOptions): ResolvedSampling {
  const r: ResolvedSampling = {
    temperature: o.temperature ?? D.temperature,
    topK: o.topK ?? D.topK,
    topP: o.topP ?? D.topP,
    minP: o.minP ?? D.minP,
    repetitionPenalty: o.repetitionPenalty ?? D.repetitionPenalty,
  };
  if (typeof r.temperature !== 'number' || !Number.isFinite(r.temperature) || r.temperature < 0) bad('temperature', r.temperature, 'a finite number ≥ 0');
  if (!Number.isInteger(r.topK) || r.topK < 0) bad('topK', r.topK, 'an integer ≥ 0');
  if (typeof r.topP !== 'number' || !(r.topP > 0 && r.topP <= 1)) bad('topP', r.topP, 'in (0, 1]');
  if (typeof r.minP !== 'number' || !(r.minP >= 0 && r.minP < 1)) bad('minP', r.minP, 'in [0, 1)');
  if (typeof r.repetitionPenalty !== 'number' || !Number.isFinite(r.repetitionPenalty) || r.repetitionPenalty <= 0) {
    bad('repetitionPenalty', r.repetitionPenalty, 'a finite number > 0');
  }
  return r;
}

const F32_MAX = 3.4028234663852886e38;

/** Index of the largest value (the first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Pick the next token. `logits` is modified (penalty applied); `recent` are the tokens to penalise. */
export function sample(logits: Float32Array, o: ResolvedSampling, rng: Rng, recent: readonly number[]): number {
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
