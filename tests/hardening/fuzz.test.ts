// Property-based fuzzing of every parser of untrusted input (targets.ts): real files mutated, and
// documents generated from scratch. Each input loads or raises a BimambaError, quickly. A fixed seed
// keeps `npm test` reproducible; `npm run fuzz` runs many more cases with fresh seeds.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCase } from './check.js';
import { buildTargets, type Targets } from './targets.js';

let built: Targets;
beforeAll(async () => {
  built = await buildTargets();
});
afterAll(() => built?.dispose());

const NAMES = ['safetensors header', '.bimamba header and config', '.bimamba load (verified)', 'model load and run', 'pickle', 'torch zip checkpoint', 'tokenizer.json', 'checkpoint config.json', 'session snapshot'];

describe('fuzz: every input loads or raises a BimambaError', () => {
  it('covers every target, 2,000 cases or more in all', () => {
    expect(built.targets.map((t) => t.name)).toEqual(NAMES);
    expect(built.targets.reduce((n, t) => n + t.testRuns, 0)).toBeGreaterThanOrEqual(2000);
  });

  for (const name of NAMES) {
    it(name, async () => {
      const target = built.targets.find((t) => t.name === name)!;
      await fc.assert(fc.asyncProperty(target.input, (input) => runCase(target, input)), { numRuns: target.testRuns, seed: 20241118 });
    });
  }
});
