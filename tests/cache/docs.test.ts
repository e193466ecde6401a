// docs/caching.md: every TypeScript snippet type-checks against the public API (the published
// dist/index.d.ts, as `bimamba`), under strict, each as a module of its own.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../runtimes/hosts.js';
import { ROOT } from '../runtimes/model.js';

const DOC = join(ROOT, 'docs', 'caching.md');
const OUT = join(ROOT, 'tests', 'out', 'docs-caching');

describe('docs/caching.md', () => {
  it('its TypeScript snippets type-check against the public API', async () => {
    const snippets = [...readFileSync(DOC, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    for (const s of snippets) expect(s).toMatch(/from 'bimamba'/);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const files = snippets.map((code, i) => {
      const name = `snippet-${i + 1}.ts`;
      writeFileSync(join(OUT, name), code.includes('export ') ? code : `${code}export {};\n`);
      return name;
    });
    writeFileSync(join(OUT, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', skipLibCheck: true,
        lib: ['ES2022', 'ESNext.Disposable', 'DOM', 'DOM.Iterable'], types: [], paths: { bimamba: [join(ROOT, 'dist', 'index.d.ts')] },
      },
      files,
    }));
    const r = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', OUT], { timeoutMs: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
