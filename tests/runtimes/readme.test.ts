// The README's "Use it in …" snippets are the examples, character for character.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATION_DEFAULTS } from '../../src/generate/defaults.js';
import { ROOT } from './model.js';

const EXAMPLES = [
  ['js', 'examples/node/generate.mjs'],
  ['ts', 'examples/deno/generate.ts'],
  ['html', 'examples/browser/index.html'],
  ['js', 'examples/worker/src/index.js'],
  ['toml', 'examples/worker/wrangler.toml'],
] as const;

describe('README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  it.each(EXAMPLES)('shows %s %s exactly as it is', (lang, path) => {
    const code = readFileSync(join(ROOT, path), 'utf8').trimEnd();
    expect(readme).toContain('```' + lang + '\n' + code + '\n```');
  });

  it('the defaults table shows GENERATION_DEFAULTS, every one of them', () => {
    const rows = new Map([...readme.matchAll(/^\| `(\w+)` \| `[^|]*` \| ([\d.]+) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(Object.fromEntries(rows)).toEqual(GENERATION_DEFAULTS);
  });
});
