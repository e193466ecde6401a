// Turning logits into the next token: repetition penalty, temperature, top-k, top-p, min-p, then a draw.
import { BimambaError } from '../errors.js';
import { DEFAULT_REPETITION_WINDOW, GENERATION_DEFAULTS as D, MAX_RECENT_TOKENS } from './defaults.js';
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
  /** How many of the session's most recent tokens the repetition penalty looks at (default 256, at most 4096). */
  repetitionWindow?: number;
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
    repetitionWindow: o.repetitionWindow ?? DEFAULT_REPETITION_WINDOW,
  };
  if (typeof r.temperature !== 'number' || !Number.isFinite(r.temperature) || r.temperature < 0) bad('temperature', r.temperature, 'a finite number ≥ 0');
  if (!Number.isInteger(r.topK) || r.topK < 0) bad('topK', r.topK, 'an integer ≥ 0');
  if (typeof r.topP !== 'number' || !(r.topP > 0 && r.topP <= 1)) bad('topP', r.topP, 'in (0, 1]');
  if (typeof r.minP !== 'number' || !(r.minP >= 0 && r.minP < 1)) bad('minP', r.minP, 'in [0, 1)');
  if (typeof r.repetitionPenalty !== 'number' || !Number.isFinite(r.repetitionPenalty) || r.repetitionPenalty <= 0) {
    bad('repetitionPenalty', r.repetitionPenalty, 'a finite number > 0');
  }
  if (!Number.isInteger(r.repetitionWindow) || r.repetitionWindow < 0 || r.repetitionWindow > MAX_RECENT_TOKENS) {
    bad('repetitionWindow', r.repetitionWindow, `an integer in [0, ${MAX_RECENT_TOKENS}]`);
  }
  return r;
}

const F32_MAX = 3.4028234663852886e38;

/**
 * The index of the largest logit: the first on ties, the first NaN if there is one (as torch.argmax),
 * -1 for none. The runtime passes the WASM kernel (assembly/argmax.ts) over logits that lie in the
 * model's memory (Session.argmax); there is no other argmax.
 */
export type Argmax = (logits: Float32Array) => number;

// Candidates and weights, reused by every call (sample() is synchronous, so one set serves all): `ids` holds
// candidate token ids, `weight[id]` the unnormalised probability of a candidate, `seen[id]` marks the ids
// already penalised in this call. They grow to the largest vocabulary seen; nothing is allocated per token.
let ids = new Int32Array(0);
let weight = new Float64Array(0);
let seen = new Uint8Array(0);

function growScratch(V: number): void {
  if (ids.length >= V) return;
  ids = new Int32Array(V);
  weight = new Float64Array(V);
  seen = new Uint8Array(V);
}

/**
 * Pick the next token. `logits` is modified (penalty applied); `recent` are the tokens to penalise.
 *
 * The result is that of sorting every id by logit (best first, the lower id first on ties), keeping the
 * top k, then the shortest prefix whose probability reaches top-p, then those at least min-p times as
 * likely as the best, and walking that prefix with one uniform draw. Nothing is sorted: top-k is a heap
 * of k, and quickselect partitions (`crossing`) find where a running sum in that order crosses a target
 * (top-p, the draw), in O(V) expected.
 * NaN logits are never drawn. Temperature 0 is `argmax` (after the penalty).
 */
export function sample(logits: Float32Array, o: ResolvedSampling, rng: Rng, recent: readonly number[], argmax: Argmax): number {
  const V = logits.length;
  growScratch(V);
  if (o.repetitionPenalty !== 1) penalize(logits, recent, o.repetitionPenalty);
  if (o.temperature === 0) return argmax(logits);

  // The top k in one pass over the vocabulary (most ids are refused by one comparison with the heap's root);
  // all candidates, ascending, where top-k is off, keeps them all, or there is no finite logit.
  let n = o.topK > 0 && o.topK < V ? topKOfAll(logits, o.topK) : 0;
  if (n > o.topK && topKMax !== Infinity && topKMax !== -Infinity) n = o.topK;
  else n = candidates(logits);
  const max = topKMax;
  if (n === 0) return argmax(logits);
  if (max === Infinity || max === -Infinity) return best(logits, n); // no finite softmax: the first of the largest

  // softmax weights at this temperature, in float64, shifted by the max so they stay finite (the best is 1)
  let total = 0;
  for (let j = 0; j < n; j++) {
    const id = ids[j];
    const w = Math.exp((logits[id] - max) / o.temperature);
    weight[id] = w;
    total += w;
  }
  if (o.topP < 1) n = crossing(logits, n, o.topP * total, false) + 1;
  if (o.minP > 0) {
    // the kept ids are a prefix of the order, so dropping those under the floor keeps a prefix too
    let m = 0;
    for (let j = 0; j < n; j++) if (weight[ids[j]] >= o.minP) ids[m++] = ids[j];
    n = m;
  }
  total = 0;
  for (let j = 0; j < n; j++) total += weight[ids[j]];
  return ids[crossing(logits, n, rng.next() * total, true)];
}

/** CTRL-style penalty on each distinct recent id: positive logits divided, negative multiplied. */
function penalize(logits: Float32Array, recent: readonly number[], penalty: number): void {
  const V = logits.length;
  for (const t of recent) {
    if (t >= V || seen[t]) continue;
    seen[t] = 1;
    const v = logits[t];
    // clamped to the finite f32 range: an extreme penalty must not make an infinity (and then NaN)
    logits[t] = Math.max(-F32_MAX, Math.min(F32_MAX, v > 0 ? v / penalty : v * penalty));
  }
  for (const t of recent) if (t < V) seen[t] = 0;
}

/** The largest non-NaN logit of the last candidates() or topKOfAll() (-Infinity for none). */
let topKMax = -Infinity;

/** Every non-NaN id, ascending, into ids; returns how many (their largest logit: topKMax). */
function candidates(logits: Float32Array): number {
  let n = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v === v) {
      ids[n++] = i;
      if (v > max) max = v;
    }
  }
  topKMax = max;
  return n;
}

/**
 * The k first of the non-NaN ids (k < V) in ids[0, k), in no particular order: a min-heap of the k best
 * so far, whose root is the worst of them. Ids come in ascending order, so a later id with the root's
 * logit comes after it, and only a larger logit enters. Returns how many ids are not NaN when that is k
 * or fewer (then ids[0, n) holds them, not in ascending order), else k + 1; their largest logit goes to
 * topKMax.
 */
function topKOfAll(logits: Float32Array, k: number): number {
  const V = logits.length;
  let max = -Infinity;
  let n = 0;
  let i = 0;
  for (; i < V && n < k; i++) {
    const v = logits[i];
    if (v !== v) continue;
    if (v > max) max = v;
    ids[n] = i;
    siftUp(logits, n++);
  }
  topKMax = max;
  if (n < k) return n;
  // more than k ids are not NaN when one after the first k is (almost always the next)
  let j = i;
  while (j < V && logits[j] !== logits[j]) j++;
  if (j === V) return n;
  let root = logits[ids[0]]; // the worst of the k kept
  for (; i < V; i++) {
    const v = logits[i];
    if (v > root) {
      // NaN is never > root; a new largest logit always is (the root is at most the largest so far)
      if (v > max) max = v;
      ids[0] = i;
      siftDown(logits, k);
      root = logits[ids[0]];
    }
  }
  topKMax = max;
  return k + 1;
}

/** The first (best) of ids[0, n) in the order: the largest logit, the lower id on ties. */
function best(logits: Float32Array, n: number): number {
  let b = ids[0];
  for (let j = 1; j < n; j++) if (before(logits, ids[j], b)) b = ids[j];
  return b;
}

/** The order of candidates: the larger logit first, the lower id on ties (a strict total order). */
function before(logits: Float32Array, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

function siftUp(logits: Float32Array, j: number): void {
  const id = ids[j];
  while (j > 0) {
    const parent = (j - 1) >> 1;
    if (!before(logits, ids[parent], id)) break;
    ids[j] = ids[parent];
    j = parent;
  }
  ids[j] = id;
}

function siftDown(logits: Float32Array, k: number): void {
  const id = ids[0];
  let j = 0;
  for (;;) {
    let c = 2 * j + 1;
    if (c >= k) break;
    if (c + 1 < k && before(logits, ids[c], ids[c + 1])) c++; // the later (worse) child
    if (!before(logits, id, ids[c])) break;
    ids[j] = ids[c];
    j = c;
  }
  ids[j] = id;
}

/**
 * Reorders ids[0, n) so that, for the returned position m, ids[0, m] are the m + 1 first in the order
 * and ids[m] is the (m+1)-th. m is the first position, in that order, where the running sum of `weight`
 * reaches `target` (passes it, when `strict`); n - 1 if it never does.
 */
const SPLIT_WEIGHT = 1e-3; // of the best's weight (1)

function crossing(logits: Float32Array, n: number, target: number, strict: boolean): number {
  let lo = 0;
  let hi = n;
  let acc = 0; // weight of ids[0, lo), all before ids[lo, hi)
  // First a split at a weight (weights never rise along the order, so the ids at or above it come first):
  // most of the mass usually lies in the few ids near the best, and then the partitions below only see those.
  let p = 0;
  for (let j = 0; j < n; j++) {
    const id = ids[j];
    if (weight[id] >= SPLIT_WEIGHT) {
      ids[j] = ids[p];
      ids[p++] = id;
      acc += weight[id];
    }
  }
  if (strict ? acc > target : acc >= target) {
    hi = p;
    acc = 0;
  } else {
    lo = p;
  }
  while (hi - lo > 24) {
    // pivot: median of the first, middle and last; moved to lo, then the rest split into before / after it
    median3(logits, lo, lo + ((hi - lo) >> 1), hi - 1);
    const pivot = ids[lo];
    const pv = logits[pivot];
    p = lo;
    let sum = 0;
    for (let j = lo + 1; j < hi; j++) {
      const id = ids[j];
      const v = logits[id];
      if (v > pv || (v === pv && id < pivot)) {
        ids[j] = ids[++p];
        ids[p] = id;
        sum += weight[id];
      }
    }
    ids[lo] = ids[p];
    ids[p] = pivot; // ids[lo, p) before the pivot, ids(p, hi) after it
    const s = acc + sum;
    if (strict ? s > target : s >= target) {
      hi = p;
      continue;
    }
    acc = s + weight[pivot];
    if (strict ? acc > target : acc >= target) return p;
    lo = p + 1;
  }
  // a short range: insertion sort, then walk it
  for (let j = lo + 1; j < hi; j++) {
    const id = ids[j];
    let k = j;
    for (; k > lo && before(logits, id, ids[k - 1]); k--) ids[k] = ids[k - 1];
    ids[k] = id;
  }
  for (let j = lo; j < hi; j++) {
    acc += weight[ids[j]];
    if (strict ? acc > target : acc >= target) return j;
  }
  return hi - 1;
}

/** Put the median (in the order) of ids[a], ids[b], ids[c] at a. */
function median3(logits: Float32Array, a: number, b: number, c: number): void {
  const x = ids[a], y = ids[b], z = ids[c];
  let m: number;
  if (before(logits, x, y)) m = before(logits, y, z) ? y : before(logits, x, z) ? z : x;
  else m = before(logits, x, z) ? x : before(logits, y, z) ? z : y;
  if (m === y) { ids[b] = x; ids[a] = y; } else if (m === z) { ids[c] = x; ids[a] = z; }
}
