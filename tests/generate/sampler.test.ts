// Sampling and stop strings, checked against what each option promises.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/generate/rng.js';
import { resolveSampling, sample } from '../../src/generate/sampler.js';
import { StopMatcher } from '../../src/generate/stop.js';

const logits = () => Float32Array.from([2.0, 1.0, 0.5, 3.0, -1.0, 2.9]); // order by value: 3, 5, 0, 1, 2, 4

function histogram(o: Parameters<typeof resolveSampling>[0], draws = 4000, recent: number[] = []): number[] {
  const r = resolveSampling(o);
  const rng = new Rng(123);
  const h = new Array(6).fill(0);
  for (let i = 0; i < draws; i++) h[sample(logits(), r, rng, recent)]++;
  return h;
}

describe('sample', () => {
  it('temperature 0 is argmax', () => {
    expect(sample(logits(), resolveSampling({ temperature: 0 }), new Rng(1), [])).toBe(3);
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
    expect(sample(l, r, new Rng(1), [3, 4])).toBe(5); // 3.0 / 2 = 1.5 < 2.9
    expect(l[3]).toBeCloseTo(1.5);
    expect(l[4]).toBeCloseTo(-2.0);
  });

  it('a seed replays the same draws', () => {
    const r = resolveSampling({ temperature: 1.3 });
    const a = new Rng(5), b = new Rng(5);
    for (let i = 0; i < 100; i++) expect(sample(logits(), r, a, [])).toBe(sample(logits(), r, b, []));
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
