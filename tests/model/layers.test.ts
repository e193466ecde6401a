// The folders of src/ layer (src/README.md, "Folders and layers"): a folder imports only from the
// folders below it in that table, and generate/ (sampling, streaming) depends on an interface of a
// session, not on model/, so that model/ can use it without a cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** What each folder may import, besides itself and the top-level files (errors.ts, location.ts, default-model.ts). */
const MAY_IMPORT: Record<string, string[]> = {
  host: [],
  wasm: ['host'],
  format: ['wasm', 'host'],
  tokenizer: ['format'],
  grammar: ['tokenizer'],
  generate: ['tokenizer', 'grammar'],
  chat: ['generate', 'tokenizer'],
  cache: ['format', 'host'],
  model: ['wasm', 'format', 'tokenizer', 'generate', 'chat', 'cache'],
  convert: ['format', 'tokenizer', 'host', 'chat'],
  eval: ['model', 'generate', 'format'],
  server: ['model', 'generate', 'host', 'tokenizer', 'format', 'chat', 'grammar'],
  cli: ['host', 'format', 'tokenizer', 'generate', 'model', 'convert', 'eval', 'server', 'chat', 'grammar', 'cache'],
};

/** Every relative import of every file of src/: [importing folder, imported folder or '' for top level, file]. */
function imports(): [string, string, string][] {
  const out: [string, string, string][] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        const from = relative(SRC, path).split(sep);
        if (from.length < 2) continue;
        for (const m of readFileSync(path, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/g)) {
          const to = relative(SRC, resolve(dirname(path), m[1])).split(sep);
          out.push([from[0], to.length > 1 ? to[0] : '', relative(SRC, path)]);
        }
      }
    }
  };
  walk(SRC);
  return out;
}

describe('src/ folders', () => {
  it('import only from the folders below them', () => {
    const found = imports();
    expect(found.length).toBeGreaterThan(100);
    const wrong = found.filter(([from, to]) => to !== '' && to !== from && !(MAY_IMPORT[from] ?? []).includes(to)).map(([from, to, file]) => `${file} -> ${to}/`);
    expect(wrong).toEqual([]);
  });

  it('generate/ imports nothing from model/', () => {
    expect(imports().filter(([from, to]) => from === 'generate' && to === 'model')).toEqual([]);
  });
});
