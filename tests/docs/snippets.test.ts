// The TypeScript snippets of docs/*.md type-check against the public API: each ```ts block becomes a
// module importing 'bimamba' (src/index.ts) and 'bimamba/server' (src/server/index.ts), as users import them.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../runtimes/model.js';

const DOCS = join(ROOT, 'docs');

describe('docs/ snippets', () => {
  const files = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
  it.each(files)('%s: every ts block type-checks against the public API', (file) => {
    const text = readFileSync(join(DOCS, file), 'utf8');
    const blocks = [...text.matchAll(/^ *```ts\n([\s\S]*?)^ *```$/gm)].map((m) => m[1].replace(/^ {2}/gm, ''));
    expect(blocks.length).toBeGreaterThan(0);
    const dir = join(ROOT, '.cache', 'docs-snippets', file.replace(/\.md$/, '')); // outside the project's tsconfig
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const names = blocks.map((code, i) => {
      const name = join(dir, `snippet-${i + 1}.ts`);
      writeFileSync(name, `${code}\nexport {};\n`);
      return name;
    });
    const program = ts.createProgram(names, {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true,
      baseUrl: ROOT, paths: { bimamba: ['src/index.ts'], 'bimamba/server': ['src/server/index.ts'] }, typeRoots: [join(ROOT, 'node_modules', '@types')],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
  }, 120_000);
});
