// docs/structured-output.md's snippets: every one type-checks against the library's types, and the
// library one runs (on the built package) and does what its comments say.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../runtimes/model.js';

const doc = readFileSync(join(ROOT, 'docs', 'structured-output.md'), 'utf8');
const snippets = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const OUT_DIR = join(ROOT, 'tests', 'out', 'docs-structured');

describe('docs/structured-output.md', () => {
  it('has its snippets, and they type-check', () => {
    expect(snippets.length).toBe(2);
    mkdirSync(OUT_DIR, { recursive: true });
    const files = snippets.map((code, i) => {
      const file = join(OUT_DIR, `snippet${i}.ts`);
      writeFileSync(file, `${code.replace("from 'bimamba'", "from '../../../src/index.js'")}\nexport {};\n`);
      return file;
    });
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'Bundler', '--skipLibCheck', '--types', 'node', ...files];
    expect(() => execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8' })).not.toThrow();
  });

  it('the library snippet runs on the built package', async () => {
    const file = join(OUT_DIR, 'snippet0.mjs');
    const lines: string[] = [];
    const code = snippets[0]
      .replace("from 'bimamba'", `from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)}`)
      .replace("'models/default.bimamba'", JSON.stringify(join(ROOT, 'models', 'default.bimamba')))
      .replace(/console\.log/g, 'globalThis.__docsLog');
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(file, code);
    (globalThis as Record<string, unknown>).__docsLog = (x: unknown) => lines.push(typeof x === 'string' ? x : JSON.stringify(x));
    await import(pathToFileURL(file).href);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatch(/^[a-h][1-8](-[a-h][1-8])?$/);
    if (lines.length === 2) expect(JSON.parse(lines[0])).toHaveProperty('name');
  });
});
