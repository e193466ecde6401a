// The package as npm ships it: `npm pack` holds dist/, the built-in model, the CLI, README and
// LICENSE and nothing else; installed from the tarball into a scratch project (its dependencies from
// npm's cache where they are there, else from the registry: `npm ci` caches tarballs but not the
// registry's metadata an install of a tarball asks for), its CLI runs and it imports, from Node and
// from Deno (npm:).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoBinary, need, run, shouldRun } from './hosts.js';
import { MAX_TOKENS, nodeGreedy, PROMPT, ROOT, tinyModel } from './model.js';

const DEFAULT_MODEL = join(ROOT, 'models', 'default.bimamba');
const SHIPPED = /^(package\.json|README\.md|LICENSE|dist\/[\w.-]+\.(js|d\.ts|wasm)|dist\/worker\/[\w.-]+\.js|models\/default\.bimamba)$/;
const REQUIRED = ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/bimamba.wasm', 'dist/worker/index.js', 'dist/worker/server.js'];
const DENO = denoBinary();

// Greedy token ids from the installed package, printed as JSON (the same script in Node and Deno).
const importScript = (specifier: string, model: string) => `
import { loadModel } from '${specifier}';
const model = await loadModel(${JSON.stringify(model)});
const tokens = [];
for await (const { token } of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: ${MAX_TOKENS}, temperature: 0 })) tokens.push(token);
model.dispose();
console.log(JSON.stringify(tokens));
`;

describe('npm pack', () => {
  let scratch: string;
  let pack: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
  let model: string;
  let expected: { tokens: number[]; text: string };

  beforeAll(async () => {
    model = await tinyModel();
    expected = await nodeGreedy(model);
    scratch = mkdtempSync(join(tmpdir(), 'bimamba-pack-'));
    // --ignore-scripts: dist/ is built already (npm test builds it); `prepare` would rebuild it under the other tests' feet
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, timeoutMs: 60_000 });
    expect(packed.code, packed.stderr).toBe(0);
    pack = JSON.parse(packed.stdout)[0];
    const project = join(scratch, 'project');
    await run('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(scratch, pack.filename)], { cwd: project, timeoutMs: 120_000 });
    expect(installed.code, installed.stderr).toBe(0);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const project = () => join(scratch, 'project');
  const bimamba = () => join(project(), 'node_modules', '.bin', 'bimamba');

  it('holds dist/, the built-in model, the CLI, README and LICENSE, and nothing else', () => {
    const paths = pack.files.map((f) => f.path).sort();
    expect(paths.filter((p) => !SHIPPED.test(p))).toEqual([]);
    for (const p of REQUIRED) expect(paths).toContain(p);
    if (existsSync(DEFAULT_MODEL)) expect(paths).toContain('models/default.bimamba');
    console.log(`npm pack: ${pack.filename}, ${(pack.size / 2 ** 20).toFixed(2)} MiB packed, ${(pack.unpackedSize / 2 ** 20).toFixed(2)} MiB unpacked, ${paths.length} files`);
  });

  it('runs `bimamba info` from the installed package', async () => {
    const r = await run(bimamba(), ['info', model], { cwd: project() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/architecture: mamba2, in_proj\/out_proj 1-bit/);
  });

  it.runIf(existsSync(DEFAULT_MODEL))('runs `bimamba generate` with the built-in model it ships', async () => {
    const r = await run(bimamba(), ['generate', '-n', '12', '-t', '0', '--no-stats', 'Once upon a time'], { cwd: project() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Once upon a time')).toBe(true);
    expect(r.stdout.trim().length).toBeGreaterThan('Once upon a time'.length);
  });

  it('imports from Node: the same greedy tokens as the working tree', async () => {
    const r = await run(process.execPath, ['--input-type=module', '-e', importScript('bimamba', model)], { cwd: project() });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(expected.tokens);
    const wasm = await run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('bimamba/bimamba.wasm'))"], { cwd: project() });
    expect(wasm.stdout.trim()).toMatch(/node_modules\/bimamba\/dist\/bimamba\.wasm$/);
  });

  it.runIf(shouldRun('Deno', DENO, 'the deno dev dependency: npm ci'))('imports from Deno through an npm: specifier', async () => {
    const r = await run(need('Deno', DENO, 'npm ci'), ['eval', '--node-modules-dir=manual', importScript('npm:bimamba', model)], { cwd: project(), env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(expected.tokens);
  });
});
