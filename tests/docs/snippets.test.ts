// Docs as tests: every JavaScript/TypeScript snippet of README.md, bench/README.md and docs/**/*.md
// type-checks, as a module of its own, in strict mode against the package's published types (dist/*.d.ts
// as `bimamba` and `bimamba/server`), and the snippets marked `run` run in Node. A snippet that is not meant
// to compile says so (```js fragment), and the number of such exceptions is pinned here, so that it cannot
// grow silently. docs/README.md ("Snippets") tells writers how to mark them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { allFences, docFiles, ROOT, type Fence } from './markdown.js';

/**
 * Snippets marked `fragment`, by file. Adding a fragment means changing this table in the same commit:
 * prefer a snippet that compiles (import what it uses, declare what the page provides).
 */
const FRAGMENTS: Record<string, number> = {};

const SCRIPT_LANGS: Record<string, '.ts' | '.js'> = { js: '.js', javascript: '.js', mjs: '.js', ts: '.ts', typescript: '.ts', mts: '.ts' };
const FLAGS = new Set(['run', 'fragment']);

/**
 * The host globals a snippet may use that neither bimamba, the DOM nor Node declares: Deno's and Bun's
 * servers and a Worker's module imports (wrangler's rules: .wasm is a compiled module, Data is bytes). Only
 * their shape matters here; what is checked is how the snippets use bimamba.
 */
const HOSTS_D_TS = `
declare const Deno: {
  serve(options: { port?: number; hostname?: string }, handler: (request: Request) => Response | Promise<Response>): unknown;
  readonly args: string[];
  exit(code?: number): never;
  readonly stdout: { write(bytes: Uint8Array): Promise<number> };
};
declare const Bun: {
  serve(options: { port?: number; hostname?: string; idleTimeout?: number; fetch(request: Request): Response | Promise<Response> }): unknown;
};
declare module '*.wasm' { const compiled: WebAssembly.Module; export default compiled; }
declare module '*.bimamba' { const bytes: ArrayBuffer; export default bytes; }
`;

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  moduleDetection: ts.ModuleDetectionKind.Force, // every snippet is a module: no names shared between them
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts', 'lib.esnext.disposable.d.ts'],
  types: ['node'],
  allowJs: true,
  checkJs: true,
  skipLibCheck: true,
  baseUrl: ROOT,
  // the package as a consumer imports it: its published declarations, not src/
  paths: { bimamba: ['dist/index.d.ts'], 'bimamba/server': ['dist/server.d.ts'] },
};

const fences = allFences();
const scripts = fences.filter((f) => f.lang in SCRIPT_LANGS);
const checked = scripts.filter((f) => !f.flags.includes('fragment'));
const where = (f: Fence) => `${f.file}:${f.line}`;
/** Where a snippet lives while it is checked: a name of its own beside the tests (never written to disk). */
const virtualPath = (f: Fence) => join(ROOT, 'tests', 'docs', '.snippets', `${f.file.replace(/[/.]/g, '_')}_${f.line}${SCRIPT_LANGS[f.lang]}`);
const HOSTS_PATH = join(ROOT, 'tests', 'docs', '.snippets', 'hosts.d.ts');

/**
 * JavaScript snippets get strict mode too, less the two checks that only type annotations satisfy, which
 * plain JavaScript cannot write (`function f(x)` is an implicit any; a caught error is unknown): every
 * other check (null checks, the API's names, arguments and return types) stays on.
 */
const JS_OPTIONS: ts.CompilerOptions = { ...OPTIONS, noImplicitAny: false, useUnknownInCatchVariables: false };

/** Type-checks the snippets in one program; the diagnostics of each, as "file:line: message". */
function typeCheck(snippets: Fence[], options: ts.CompilerOptions): Map<Fence, string[]> {
  const byPath = new Map(snippets.map((f) => [virtualPath(f), f]));
  const sources = new Map<string, string>([[HOSTS_PATH, HOSTS_D_TS], ...snippets.map((f) => [virtualPath(f), f.code] as [string, string])]);
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) => sources.has(path) || fileExists.call(host, path);
  host.readFile = (path) => sources.get(path) ?? readFile.call(host, path);
  host.getSourceFile = (path, language, onError, create) => {
    const text = sources.get(path);
    return text === undefined ? getSourceFile.call(host, path, language, onError, create) : ts.createSourceFile(path, text, language, true);
  };
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  const result = new Map<Fence, string[]>(snippets.map((f) => [f, []]));
  for (const d of [...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics(), ...ts.getPreEmitDiagnostics(program)]) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const fence = d.file && byPath.get(d.file.fileName);
    if (!fence) {
      // a diagnostic outside any snippet (the options, the host declarations) fails every snippet
      for (const list of result.values()) list.push(`${d.file?.fileName ?? 'options'}: TS${d.code} ${message}`);
      continue;
    }
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
    result.get(fence)!.push(`${fence.file}:${fence.line + line}: TS${d.code} ${message}`);
  }
  return result;
}

describe('documentation snippets', () => {
  it('finds the documentation: the README, bench/README.md and every docs/**/*.md', () => {
    const files = docFiles();
    expect(files).toContain('README.md');
    expect(files).toContain('docs/README.md');
    expect(files).toContain('docs/library.md');
    expect(files).toContain('docs/server.md');
    expect(checked.length).toBeGreaterThanOrEqual(5);
    expect(checked.some((f) => f.flags.includes('run'))).toBe(true);
  });

  it('every snippet is marked with known words only (run, fragment), and a fragment is not run', () => {
    const bad = scripts.filter((f) => f.flags.some((w) => !FLAGS.has(w)) || (f.flags.includes('run') && f.flags.includes('fragment')));
    expect(bad.map((f) => `${where(f)}: \`\`\`${f.lang} ${f.flags.join(' ')}`)).toEqual([]);
    const runTs = scripts.filter((f) => f.flags.includes('run') && SCRIPT_LANGS[f.lang] === '.ts');
    expect(runTs.map(where), 'only JavaScript snippets run (Node runs no TypeScript here)').toEqual([]);
  });

  it('the fragments are the ones counted, file by file', () => {
    const counted: Record<string, number> = {};
    for (const f of scripts.filter((s) => s.flags.includes('fragment'))) counted[f.file] = (counted[f.file] ?? 0) + 1;
    expect(counted).toEqual(FRAGMENTS);
  });

  describe('type-check in strict mode against dist/*.d.ts (JavaScript: strict less noImplicitAny)', () => {
    let diagnostics = new Map<Fence, string[]>();
    beforeAll(() => {
      for (const d of ['index.d.ts', 'server.d.ts']) expect(existsSync(join(ROOT, 'dist', d)), `dist/${d}: run npm run build`).toBe(true);
      const isTs = (f: Fence) => SCRIPT_LANGS[f.lang] === '.ts';
      diagnostics = new Map([...typeCheck(checked.filter(isTs), OPTIONS), ...typeCheck(checked.filter((f) => !isTs(f)), JS_OPTIONS)]);
    });
    it.each(checked.map((f) => [where(f), f] as const))('%s', (_, fence) => {
      expect(diagnostics.get(fence)).toEqual([]);
    });
  });

  describe('the snippets marked run, run in Node from the repository root', () => {
    const runnable = checked.filter((f) => f.flags.includes('run'));
    const out = join(ROOT, 'tests', 'out', 'docs');
    it.each(runnable.map((f) => [where(f), f] as const))('%s', (_, fence) => {
      mkdirSync(out, { recursive: true });
      // inside the package, so `bimamba` resolves to this build through package.json's exports
      const file = join(out, `${fence.file.replace(/[/.]/g, '_')}_${fence.line}.mjs`);
      writeFileSync(file, fence.code);
      const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
      expect(r.status, `${where(fence)} exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stderr}`).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    });
  });
});
