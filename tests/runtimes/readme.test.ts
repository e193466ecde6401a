// docs/hosts.md's snippets are the examples, character for character, and docs/library.md's defaults table
// is GENERATION_DEFAULTS. (Every JavaScript/TypeScript snippet of the docs is type-checked by tests/docs/.)
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

describe('docs/hosts.md and docs/library.md', () => {
  const hosts = readFileSync(join(ROOT, 'docs', 'hosts.md'), 'utf8');
  const library = readFileSync(join(ROOT, 'docs', 'library.md'), 'utf8');
  it.each(EXAMPLES)('docs/hosts.md shows %s %s exactly as it is', (lang, path) => {
    const code = readFileSync(join(ROOT, path), 'utf8').trimEnd();
    expect(hosts).toContain('```' + lang + '\n' + code + '\n```');
  });

  it('the defaults table (docs/library.md) shows GENERATION_DEFAULTS, every one of them', () => {
    const rows = new Map([...library.matchAll(/^\| `(\w+)` \| `[^|]*` \| ([\d.]+) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(Object.fromEntries(rows)).toEqual(GENERATION_DEFAULTS);
  });
});
