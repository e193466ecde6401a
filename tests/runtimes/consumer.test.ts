// The package as a newcomer gets it, twice: installed from a git clone (`npm install git+file://…`, which
// runs the `prepare` build, since git holds no dist/) and from the `npm pack` tarball. In each scratch
// project a TypeScript program using every documented API (consumer/app.ts) type-checks under `strict`,
// runs in Node and in Deno with the same output, and the `bimamba` command runs.
// The git install clones the committed HEAD: commit before running this locally. npm's cache (filled by
// `npm ci`) serves what it holds; the rest (typescript's and @types/node's registry entries) comes from npm.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoBinary, need, run, shouldRun } from './hosts.js';
import { ROOT } from './model.js';

const DENO = denoBinary();
const APP = join(ROOT, 'tests', 'runtimes', 'consumer', 'app.ts');
const devVersion = (name: string) => JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies[name] as string;
const TSCONFIG = {
  compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'], outDir: 'build', skipLibCheck: false },
  include: ['app.ts'],
};

let scratch = '';
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'bimamba-consumer-'));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A scratch TypeScript project with the package (from `spec`), typescript and @types/node installed. */
async function project(name: string, spec: () => Promise<string>): Promise<string> {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  copyFileSync(APP, join(dir, 'app.ts'));
  const deps = [await spec(), `typescript@${devVersion('typescript')}`, `@types/node@${devVersion('@types/node')}`];
  const r = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...deps], { cwd: dir, timeoutMs: 540_000 });
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

const SOURCES: [string, () => Promise<string>][] = [
  [
    'git',
    async () => {
      const repo = join(scratch, 'repo');
      const r = await run('git', ['clone', '--quiet', ROOT, repo], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      return `git+file://${repo}`;
    },
  ],
  [
    'pack',
    async () => {
      const r = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      return join(scratch, JSON.parse(r.stdout)[0].filename);
    },
  ],
];

describe.each(SOURCES)('installed from %s', (name, spec) => {
  let dir = '';
  let nodeOutput = '';
  beforeAll(async () => {
    dir = await project(name, spec);
  }, 600_000);

  it('the TypeScript program type-checks under strict', async () => {
    const r = await run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('runs in Node', async () => {
    const r = await run(process.execPath, ['build/app.js'], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    nodeOutput = r.stdout;
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ progress: true, arch: 'mamba2', snapshot: true, sessions: true, logits: true, blob: true, tokenizer: true, aborted: 'abort' });
    expect(out.streamed.reason).toMatch(/^(eos|stop|length)$/);
    expect(out.streamed.top).toHaveLength(3);
    expect(out.complete).toMatchObject({ reason: 'length' });
    expect(out.complete.tokens).toHaveLength(8);
    expect(out.error).toEqual(['BAD_ARGUMENT', 'invalid maxTokens: "5" is not a number']);
    expect(out.server).toEqual({ models: ['default'], status: 200, same: true });
  });

  it.runIf(shouldRun('Deno', DENO, 'the deno dev dependency: npm ci'))('runs in Deno, with the same output', async () => {
    expect(nodeOutput).not.toBe('');
    const r = await run(need('Deno', DENO, 'npm ci'), ['run', '--allow-all', '--node-modules-dir=manual', 'app.ts'], { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(nodeOutput);
  });

  it('the bimamba command runs: --version, info on the built-in model', async () => {
    const bin = join(dir, 'node_modules', '.bin', 'bimamba');
    const v = await run(bin, ['--version'], { cwd: dir });
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const info = await run(bin, ['info', '--no-tensors'], { cwd: dir });
    expect(info.stderr).toBe('');
    expect(info.stdout).toMatch(/\(the built-in model\): \.bimamba v1/);
  });
});
