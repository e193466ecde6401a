// docs/hosts.md's snippets are the examples, character for character, and docs/library.md's defaults table
// is GENERATION_DEFAULTS. (Every JavaScript/TypeScript snippet of the docs is type-checked by tests/docs/.)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATION_DEFAULTS } from '../../src/generate/defaults.js';
import { docFiles } from '../docs/markdown.js';
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

describe('README.md', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  it('is what a newcomer reads first: at most 250 lines, the rest in docs/', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
    for (const page of ['docs/README.md', 'docs/library.md', 'docs/hosts.md', 'docs/server.md', 'bench/README.md']) {
      expect(readme).toContain(`](${page})`);
    }
  });

  it('begins its quick start with the two commands, exactly', () => {
    const quickStart = /## Quick start\n\n```sh\n([^`]*)```/.exec(readme);
    expect(quickStart?.[1]).toBe('npm install && npm start\nnpm test\n');
  });

  it('every relative link of the README and docs/ names a file that exists, and a heading where it names one', () => {
    // GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens
    const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const missing: string[] = [];
    for (const file of docFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target, anchor] of text.matchAll(/\]\(([^)#\s]*)(?:#([^)\s]*))?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const path = target ? join(ROOT, dirname(file), target) : join(ROOT, file);
        if (!existsSync(path)) missing.push(`${file}: ${target}`);
        else if (anchor && path.endsWith('.md')) {
          const headings = [...readFileSync(path, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]));
          if (!headings.includes(anchor)) missing.push(`${file}: ${target}#${anchor}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
