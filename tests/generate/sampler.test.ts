// Sampling and stop strings, checked against what each option promises.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/generate/rng.js';
import { resolveSampling, sample, type SamplingOptions } from '../../src/generate/sampler.js';
import { StopMatcher } from '../../src/generate/stop.js';
import { Rng as TestRng } from '../util/rng.js';
import { loadCore, type TestCore } from '../util/wasm.js';
import { sampleBefore } from './sampler-before.js';

let wasm: TestCore; // the argmax kernel, for temperature 0
beforeAll(async () => { wasm = await loadCore(); });

const logits = () => Float32Array.from([2.0, 1.0, 0.5, 3.0, -1.0, 2.9]); // order by value: 3, 5, 0, 1, 2, 4

function histogram(o: Parameters<typeof resolveSampling>[0], draws = 4000, recent: number[] = []): number[] {
  const r = resolveSampling(o);
  const rng = new Rng(123);
  const h = new Array(6).fill(0);
  for (let i = 0; i < draws; i++) h[sample(logits(), r, rng, recent, wasm.argmax)]++;
  return h;
}

describe('sample', () => {
  it('temperature 0 is argmax', () => {
    expect(sample(logits(), resolveSampling({ temperature: 0 }), new Rng(1), [], wasm.argmax)).toBe(3);
  });

  it('top-k keeps only the k best', () => {
    const h = histogram({ temperature: 1, topK: 2 });
    expect(h[3] + h[5]).toBe(4000);
    expect(h[3]).toBeGreaterThan(h[5]); // 3.0 vs 2.9: close, but more often the better one
  });

  it('top-p keeps the smallest set reaching p', () => {
    // softmax of the two best: e^3, e^2.9 vs the rest; with p small only the best survives
    expect(histogram({ temperature: 1, topP: 0.2 })[3]).toBe(4000);
    const h = histogram({ temperature: 1, topP: 0.8 }); // p: .399, .361, .147, ... so three tokens reach 0.8
    expect(h[3] + h[5] + h[0]).toBe(4000);
    expect(h[0]).toBeGreaterThan(0);
  });

  it('min-p drops tokens under p times the best', () => {
    const h = histogram({ temperature: 1, minP: 0.5 }); // keeps e^(l-3) >= 0.5: 3.0, 2.9 (0.905); 2.0 is 0.37
    expect(h[3] + h[5]).toBe(4000);
  });

  it('frequencies follow the softmax', () => {
    const h = histogram({ temperature: 1, topK: 0, topP: 1 }, 20000); // the plain softmax: truncation off
    const l = Array.from(logits());
    const z = l.reduce((a, x) => a + Math.exp(x), 0);
    for (let i = 0; i < 6; i++) expect(Math.abs(h[i] / 20000 - Math.exp(l[i]) / z)).toBeLessThan(0.015);
  });

  it('the repetition penalty lowers recent tokens, positive and negative alike', () => {
    const r = resolveSampling({ temperature: 0, repetitionPenalty: 2 });
    const l = logits();
    expect(sample(l, r, new Rng(1), [3, 4], wasm.argmax)).toBe(5); // 3.0 / 2 = 1.5 < 2.9
    expect(l[3]).toBeCloseTo(1.5);
    expect(l[4]).toBeCloseTo(-2.0);
  });

  it('a seed replays the same draws', () => {
    const r = resolveSampling({ temperature: 1.3 });
    const a = new Rng(5), b = new Rng(5);
    for (let i = 0; i < 100; i++) expect(sample(logits(), r, a, [], wasm.argmax)).toBe(sample(logits(), r, b, [], wasm.argmax));
  });
});

// Every option alone and in combination (the penalty and the temperature vary with them).
const COMBINATIONS: SamplingOptions[] = [
  { temperature: 1 },
  { temperature: 0.7 },
  { temperature: 1.6, topK: 3 },
  { temperature: 1, topK: 1 },
  { temperature: 1, topP: 0.7 },
  { temperature: 0.5, topP: 0.95 },
  { temperature: 1, minP: 0.2 },
  { temperature: 1, repetitionPenalty: 1.5 },
  { temperature: 1, topK: 4, topP: 0.8 },
  { temperature: 1, topK: 5, minP: 0.3 },
  { temperature: 0.9, topP: 0.9, minP: 0.1 },
  { temperature: 0.8, topK: 4, topP: 0.95, minP: 0.05, repetitionPenalty: 1.3 },
];

/**
 * The exact distribution the options define, written out from the definitions: penalise, order (larger
 * logit first, lower id on ties), keep the top k, softmax, keep the shortest prefix reaching top-p, drop
 * what is under min-p times the best, renormalise.
 */
function exactDistribution(logits: Float32Array, o: SamplingOptions, recent: number[]): number[] {
  const r = resolveSampling(o);
  const l = Array.from(logits);
  for (const t of new Set(recent)) l[t] = l[t] > 0 ? l[t] / r.repetitionPenalty : l[t] * r.repetitionPenalty;
  let order = l.map((_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
  if (r.topK > 0) order = order.slice(0, r.topK);
  const w = order.map((i) => Math.exp((l[i] - l[order[0]]) / r.temperature));
  const z = w.reduce((a, b) => a + b, 0);
  let keep = order.length;
  for (let i = 0, acc = 0; i < order.length; i++) {
    acc += w[i] / z;
    if (acc >= r.topP) { keep = i + 1; break; }
  }
  keep = Math.min(keep, w.filter((x) => x >= r.minP).length);
  const zKeep = w.slice(0, keep).reduce((a, b) => a + b, 0);
  const p = new Array(l.length).fill(0);
  for (let i = 0; i < keep; i++) p[order[i]] = w[i] / zKeep;
  return p;
}

/** The 1 - alpha quantile of chi-square with df degrees of freedom (Wilson-Hilferty; alpha = 1e-3). */
function chiSquareCritical(df: number): number {
  const z = 3.09;
  const c = 2 / (9 * df);
  return df * (1 - c + z * Math.sqrt(c)) ** 3;
}

describe('sample follows the exact distribution', () => {
  // two ties (1.5) and a wide range; recent tokens 0 (positive logit) and 6 (negative)
  const small = () => Float32Array.from([1.5, 0.3, 2.2, 1.5, -0.4, 0.9, -1.2, 2.0]);
  const recent = [0, 6, 0];

  for (const o of COMBINATIONS) {
    it(`chi-square, ${JSON.stringify(o)}`, () => {
      const p = exactDistribution(small(), o, recent);
      const r = resolveSampling(o);
      const rng = new Rng(2024);
      const draws = 40000;
      const h = new Array(p.length).fill(0);
      for (let i = 0; i < draws; i++) h[sample(small(), r, rng, recent, wasm.argmax)]++;
      let chi2 = 0;
      let df = -1;
      for (let i = 0; i < p.length; i++) {
        if (p[i] === 0) {
          expect(h[i], `token ${i} is outside the kept set`).toBe(0);
          continue;
        }
        chi2 += (h[i] - draws * p[i]) ** 2 / (draws * p[i]);
        df++;
      }
      if (df > 0) expect(chi2).toBeLessThan(chiSquareCritical(df));
      else expect(h.filter((x) => x > 0)).toHaveLength(1);
    });
  }
});

describe('sample draws what the sort-everything sampler drew, seed for seed', () => {
  // Logits of several shapes: smooth, with many ties, with -Infinity, and a real vocabulary size.
  const data = new TestRng(77);
  const shapes: [string, Float32Array][] = [
    ['one id', Float32Array.from([0.5])],
    ['normal, 50', Float32Array.from({ length: 50 }, () => 2 * data.normal())],
    ['ties, 300', Float32Array.from({ length: 300 }, () => Math.round(4 * data.normal()) / 2)],
    ['-Infinity, 100', Float32Array.from({ length: 100 }, (_, i) => (i % 3 ? data.normal() : -Infinity))],
    ['peaked, 5000', Float32Array.from({ length: 5000 }, () => 6 * data.normal())],
    ['normal, 32000', Float32Array.from({ length: 32000 }, () => 2 * data.normal())],
  ];
  for (const [name, base] of shapes) {
    it(name, () => {
      const recent = Array.from({ length: 40 }, () => data.int(0, base.length));
      for (const o of [...COMBINATIONS, { temperature: 0 }, { temperature: 1, topK: 1000 }, { temperature: 1, topP: 0.999 }, { temperature: 1, topK: 7, topP: 1e-9 }]) {
        const r = resolveSampling(o);
        const before = new Rng(11), now = new Rng(11);
        const draws = base.length > 10000 ? 10 : base.length > 1000 ? 50 : 200;
        for (let i = 0; i < draws; i++) {
          const a = base.slice(), b = base.slice();
          expect(sample(b, r, now, recent, wasm.argmax), `${JSON.stringify(o)}, draw ${i}`).toBe(sampleBefore(a, r, before, recent));
          if (i === 0) expect(b).toEqual(a); // the same penalised logits
        }
      }
    });
  }
});

describe('sample skips NaN logits and draws as the sort-everything sampler over the rest', () => {
  // sampleBefore does not order NaN: it gets the non-NaN ids alone (their order, so ties break alike)
  const data = new TestRng(78);
  const shapes: [string, Float32Array][] = [
    ['every 4th NaN, 100', Float32Array.from({ length: 100 }, (_, i) => (i % 4 === 1 ? NaN : data.normal()))],
    ['k or fewer not NaN', Float32Array.from({ length: 40 }, (_, i) => (i % 9 === 2 ? data.normal() : NaN))],
    ['k, then NaN, then one more', Float32Array.from({ length: 60 }, (_, i) => (i < 4 || i === 59 ? data.normal() : NaN))],
    ['NaN first, ties, 3000', Float32Array.from({ length: 3000 }, (_, i) => (i < 50 || i % 7 === 0 ? NaN : Math.round(3 * data.normal()) / 2))],
  ];
  for (const [name, base] of shapes) {
    it(name, () => {
      const kept = [...base.keys()].filter((i) => !Number.isNaN(base[i]));
      const at = new Map(kept.map((id, j) => [id, j]));
      const recent = Array.from({ length: 30 }, () => data.int(0, base.length));
      const recentKept = recent.filter((t) => at.has(t)).map((t) => at.get(t)!);
      for (const o of [...COMBINATIONS, { temperature: 1, topK: 4 }, { temperature: 1, topK: 5 }, { temperature: 1, topK: 1000 }, { temperature: 1, topK: 7, topP: 1e-9 }]) {
        const r = resolveSampling(o);
        const before = new Rng(12), now = new Rng(12);
        for (let i = 0; i < 100; i++) {
          const drawn = sample(base.slice(), r, now, recent, wasm.argmax);
          expect(drawn, `${JSON.stringify(o)}, draw ${i}`).toBe(kept[sampleBefore(Float32Array.from(kept, (id) => base[id]), r, before, recentKept)]);
        }
      }
    });
  }

  it('with no finite logit, the first of the largest (NaN never)', () => {
    const r = resolveSampling({ temperature: 1, topK: 2 });
    expect(sample(Float32Array.from([NaN, -Infinity, NaN, -Infinity, -Infinity]), r, new Rng(1), [], wasm.argmax)).toBe(1);
    expect(sample(Float32Array.from([NaN, 1, Infinity, NaN, 2, Infinity]), r, new Rng(1), [], wasm.argmax)).toBe(2);
    expect(sample(Float32Array.from([NaN, NaN, NaN]), r, new Rng(1), [], wasm.argmax)).toBe(0); // argmax: the first NaN
  });
});

describe('StopMatcher', () => {
  it('holds back a possible stop prefix and drops the stop string', () => {
    const m = new StopMatcher(['\n\n', 'END']);
    expect(m.push('Hello E')).toEqual({ emit: 'Hello ', stopped: false });
    expect(m.push('N')).toEqual({ emit: '', stopped: false });
    expect(m.push('Dless')).toEqual({ emit: '', stopped: true });
  });

  it('releases held text once it can no longer start a stop string', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('abE').emit).toBe('ab');
    expect(m.push('x').emit).toBe('Ex');
    expect(m.push('EN').emit).toBe('');
    expect(m.flush()).toBe('EN');
  });

  it('stops at the earliest of several stop strings', () => {
    const m = new StopMatcher(['bc', 'abcd']);
    expect(m.push('xxabcd')).toEqual({ emit: 'xx', stopped: true }); // 'abcd' starts first
  });
});
