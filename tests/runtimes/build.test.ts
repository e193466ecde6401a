// `npm run build` (which `npm start`, `npm run demo`, `npm test` and `npm pack` run first) builds only what
// is missing or older than its sources: right after a build it does nothing. In a scratch copy of the
// project (its sources, a built dist/, the shared node_modules linked in), so this checkout's dist/ is
// never touched.
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './hosts.js';
import { ROOT } from './model.js';

const SOURCES = ['package.json', 'asconfig.json', 'rollup.config.js', 'tsconfig.json', 'scripts', 'src', 'assembly'];
const OUTPUTS = ['bimamba.wasm', 'bimamba-relaxed.wasm', 'bimamba-threads.wasm', 'bimamba-threads-relaxed.wasm', 'index.js', 'server.js', 'cli.js', 'browser.js', 'index.d.ts', 'server.d.ts', 'worker/index.js', 'worker/server.js'];

let dir = '';
const mtimes = () => OUTPUTS.map((f) => statSync(join(dir, 'dist', f)).mtimeMs);
const dryRun = async () => (await run(process.execPath, ['scripts/build.mjs', '--dry-run'], { cwd: dir })).stderr;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bimamba-build-'));
  for (const f of SOURCES) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, filter: (f) => !f.endsWith('.map') });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // as after a build: every source older than every output
  const past = new Date(Date.now() - 3_600_000);
  const age = (path: string): void => {
    utimesSync(path, past, past);
    if (statSync(path).isDirectory()) for (const f of readdirSync(path)) age(join(path, f));
  };
  SOURCES.forEach((f) => age(join(dir, f)));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('does nothing when dist/ is newer than its sources', async () => {
    const before = mtimes();
    const started = Date.now();
    const r = await run('npm', ['run', 'build', '--silent'], { cwd: dir, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    expect(mtimes()).toEqual(before);
    expect(Date.now() - started).toBeLessThan(30_000); // npm itself, and a look at the files
  });

  it('names what a changed source makes it build, and only that', async () => {
    utimesSync(join(dir, 'src', 'generate', 'yield.ts'), new Date(), new Date());
    const js = await dryRun();
    expect(js).toMatch(/JS bundles and types: \/?src\/generate\/yield\.ts changed/);
    expect(js).not.toMatch(/WASM/);
    utimesSync(join(dir, 'assembly', 'index.ts'), new Date(), new Date());
    const both = await dryRun();
    expect(both.match(/WASM core \([\w-]+\): \/?assembly\/index\.ts changed/g)).toHaveLength(4);
    rmSync(join(dir, 'dist', 'worker', 'server.js'));
    expect(await dryRun()).toMatch(/JS bundles and types: \/?dist\/worker\/server\.js is missing/);
  });
});
