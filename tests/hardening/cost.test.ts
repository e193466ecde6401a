// Inputs that once cost minutes or gigabytes (cost-cases.ts) are refused quickly. They run in one child
// process with a 128 MB JS heap and a time limit, so a regression fails here instead of killing the
// runner; the child reports each case as it starts and ends, so the case that blew up is named.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBounded, type BoundedRun } from './bounded.js';

const SCRIPT = fileURLToPath(new URL('./cost-cases.ts', import.meta.url));

/** Case name and the most milliseconds it may take (today each takes well under a tenth of that). */
const CASES: [string, number][] = [
  ['tokenizer: empty Replace patterns', 500],
  ['tokenizer: empty-matching Replace regexes', 500],
  ['tokenizer: FixedLength of 0', 500],
  ['tokenizer: possessive-looking a{1,2}+', 500],
  ['tokenizer: (a+){,99}', 500],
  ['tokenizer: a bound of 30 digits', 500],
  ['tokenizer: a* twelve times', 500],
  ['tokenizer: (a|a)*', 500],
  ['tokenizer: WordPiece words of 1e9 characters', 500],
  ['tokenizer: a Unigram piece of 40,000 characters', 500],
  ['pickle: LONG4 of 1 MiB', 500],
  ['pickle: BINSTRING of 30 MB', 2000],
  ['pickle: a list of 20 M items', 2500],
  ['header: 16 MB of nested arrays', 1500],
  ['header: 5 M empty arrays', 1500],
  ['zip: tensors sharing one deflated storage', 2500],
];

let run: BoundedRun;
const results = new Map<string, { code?: string; ms?: number; started?: boolean }>();

beforeAll(() => {
  const limit = 5000 + CASES.reduce((n, [, ms]) => n + ms, 0);
  run = runBounded(SCRIPT, CASES.map(([name]) => name), { heapMb: 128, timeoutMs: limit });
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line);
    results.set(r.case, { ...results.get(r.case), ...r });
  }
}, 60_000);

describe('hostile inputs are refused within a time and memory bound', () => {
  for (const [name, maxMs] of CASES) {
    it(name, () => {
      const r = results.get(name);
      expect(r, `not reached: an earlier case blew up (${run.timedOut ? 'timeout' : `exit ${run.status}`})`).toBeDefined();
      expect(r!.code, r!.code ? '' : `it blew up: ${run.timedOut ? 'the child was killed on its time limit' : run.stderr}`).toBe('BAD_FORMAT');
      expect(r!.ms).toBeLessThan(maxMs);
    });
  }
});
