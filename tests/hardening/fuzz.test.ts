// Property-based fuzzing of every parser of untrusted input (targets.ts): real files mutated, and
// documents generated from scratch. Each input loads or raises a BimambaError, quickly. A fixed seed
// keeps `npm test` reproducible; `npm run fuzz` runs many more cases with fresh seeds.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { unpickleStateDict } from '../../src/format/pickle.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { byteTokenizerJson } from '../util/fixtures.js';
import { runCase } from './check.js';
import { buildTargets, type Targets } from './targets.js';

let built: Targets;
beforeAll(async () => {
  built = await buildTargets();
});
afterAll(() => built?.dispose());

const NAMES = ['safetensors header', '.bimamba header and config', '.bimamba load (verified)', 'model load and run', 'pickle', 'torch zip checkpoint', 'tokenizer.json', 'tokenizer.model (SentencePiece)', 'tokenizer.json from scratch', 'pickle integers and strings', 'zip storage sharing', 'header nesting', 'checkpoint config.json', 'regex bounded repetition', 'HTTP request', 'session snapshot'];

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

describe('inputs the fuzzer once found a bug with', () => {
  async function code(run: () => unknown): Promise<string> {
    try {
      await run();
    } catch (e) {
      if (e instanceof BimambaError) return e.code;
      throw e;
    }
    return 'ok';
  }

  it('a pickle whose state-dict key is a tuple holding a MARK (an error message once failed to print it)', async () => {
    const pickle = Uint8Array.from([0x80, 2, 0x7d, 0x28, 0x85, 0x4e, 0x73, 0x2e]); // {(MARK,): None}
    expect(await code(() => unpickleStateDict(pickle, 'data.pkl'))).toBe('BAD_FORMAT');
  });

  it('a tokenizer with an added token of id 2^31 (the library walked two billion slots)', async () => {
    const t = JSON.parse(byteTokenizerJson());
    t.added_tokens[0].id = 2 ** 31;
    const t0 = performance.now();
    expect(await code(() => loadTokenizer(t))).toBe('BAD_FORMAT');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a Unigram tokenizer whose vocabulary entries are not [token, score] (the library threw a TypeError)', async () => {
    const t = { model: { type: 'Unigram', unk_id: 0, vocab: [[['<unk>', -1]], [['a', -2]]] }, normalizer: null, pre_tokenizer: null, decoder: null };
    expect(await code(() => loadTokenizer(t).encode('a'))).toBe('BAD_FORMAT');
  });
});
