// The Worker build (the `workerd` and `worker` export conditions, dist/worker/): its whole module graph,
// followed import by import, names no `node:` module, so wrangler bundles it without nodejs_compat and
// prints no warning about one. Asked for a file, it says plainly that a Worker passes bytes instead.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAst } from 'rollup/parseAst';
import { describe, expect, it } from 'vitest';
import { ROOT, WORKER_DIST } from './model.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Every specifier a module imports: static imports, re-exports and dynamic import() of a literal. */
function specifiers(file: string): string[] {
  const found: string[] = [];
  const visit = (node: any) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    if (['ImportDeclaration', 'ExportNamedDeclaration', 'ExportAllDeclaration', 'ImportExpression'].includes(node.type) && node.source) {
      // a computed import() could name anything, node: included
      if (node.source.type !== 'Literal') throw new Error(`${file}: import() of a computed specifier`);
      found.push(node.source.value);
    }
    for (const key of Object.keys(node)) if (key !== 'type') visit(node[key]);
  };
  visit(parseAst(readFileSync(file, 'utf8')));
  return found;
}

/** The files an entry reaches and every specifier along the way. */
function moduleGraph(entry: string): { files: string[]; specifiers: string[] } {
  const files: string[] = [];
  const all: string[] = [];
  const walk = (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    for (const s of specifiers(file)) {
      all.push(s);
      if (s.startsWith('./') || s.startsWith('../')) walk(resolve(dirname(file), s));
    }
  };
  walk(entry);
  return { files, specifiers: all };
}

describe('the Worker build', () => {
  for (const subpath of ['.', './server']) {
    it(`'${subpath}' under the workerd and worker conditions imports no node: module, transitively`, () => {
      const target = pkg.exports[subpath];
      expect(target.workerd).toBe(target.worker);
      const entry = join(ROOT, target.workerd);
      expect(relative(WORKER_DIST, entry).startsWith('..')).toBe(false);
      const graph = moduleGraph(entry);
      expect(graph.files.length).toBeGreaterThan(1); // the walk followed the chunks
      expect(graph.specifiers.filter((s) => s.startsWith('node:'))).toEqual([]);
      // everything is bundled: only the build's own files, nothing the Worker would have to resolve
      expect(graph.specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../'))).toEqual([]);
      for (const file of graph.files) expect(relative(WORKER_DIST, file).startsWith('..'), file).toBe(false);
    });
  }

  it('the Node build still reads files (the control: the walk sees node: imports where they are)', () => {
    const graph = moduleGraph(join(ROOT, pkg.exports['.'].default));
    expect(graph.specifiers.some((s) => s.startsWith('node:'))).toBe(true);
  });

  it('a path given to the Worker build fails with UNSUPPORTED, not a missing module', async () => {
    const { loadModel, BimambaError } = await import(pathToFileURL(join(WORKER_DIST, 'index.js')).href);
    const err = await loadModel(join(ROOT, 'models', 'default.bimamba')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BimambaError);
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/Worker and browser builds/);
  });

  it('the Worker examples import the package by name, so wrangler picks the workerd condition', () => {
    for (const example of ['examples/worker/src/index.js', 'examples/server/worker/src/index.js']) {
      const imports = specifiers(join(ROOT, example));
      expect(imports).toContain('bimamba');
      expect(imports.filter((s) => s.startsWith('node:') || s.includes('dist/'))).toEqual([]);
    }
  });
});
