// The package in a bundler (Vite, the devDependency): a build copies the four WASM builds the bundle asks
// for with `new URL('./bimamba*.wasm', import.meta.url)`, and the 3.5 MiB built-in model only when the app
// imports it (`bimamba/models/default.bimamba?url`), never because the library could load it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './hosts.js';
import { ROOT } from './model.js';

const scratch = mkdtempSync(join(tmpdir(), 'bimamba-vite-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Build a one-file app with Vite; the names of the assets it emits (and in `log`, all Vite said). */
async function build(name: string, main: string, log?: string[]): Promise<string[]> {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'bimamba')); // the working tree's build, as a file: install links it
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  writeFileSync(join(dir, 'index.html'), '<script type="module" src="./main.js"></script>\n');
  writeFileSync(join(dir, 'main.js'), main);
  const r = await run(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', log ? 'info' : 'error'], { cwd: dir, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  log?.push(r.stdout + r.stderr);
  return readdirSync(join(dir, 'dist', 'assets')).map((f) => f.replace(/-[\w-]{8}\./, '.'));
}

const WASM = ['bimamba.wasm', 'bimamba-relaxed.wasm', 'bimamba-threads.wasm', 'bimamba-threads-relaxed.wasm'];

describe('a Vite build', () => {
  it('copies the four WASM builds, and not the built-in model', async () => {
    const assets = await build('plain', "import { loadModel } from 'bimamba';\nawait loadModel(new URL('/model.bimamba', location.href));\n");
    for (const w of WASM) expect(assets).toContain(w);
    expect(assets.filter((a) => a.endsWith('.bimamba'))).toEqual([]);
  });

  it('finds no Node module in the page\'s graph (the `browser` condition): no warning, no node: import', async () => {
    const log: string[] = [];
    const assets = await build('quiet', "import { loadModel } from 'bimamba';\nconst model = await loadModel(new URL('/model.bimamba', location.href));\nfor await (const t of model.generate('x')) console.log(t.text);\n", log);
    expect(log.join('')).toMatch(/built in/); // what Vite says, warnings included
    expect(log.join('')).not.toMatch(/externalized|node:/);
    expect(assets.filter((a) => a.includes('browser-external'))).toEqual([]);
    const js = readdirSync(join(scratch, 'quiet', 'dist', 'assets')).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) expect(readFileSync(join(scratch, 'quiet', 'dist', 'assets', f), 'utf8'), f).not.toMatch(/import\(\s*["']node:/);
    for (const w of WASM) expect(assets).toContain(w);
  });

  it('copies the built-in model when the app imports its URL', async () => {
    const assets = await build('model', "import { loadModel } from 'bimamba';\nimport url from 'bimamba/models/default.bimamba?url';\nawait loadModel(new URL(url, location.href));\n");
    expect(assets).toContain('default.bimamba');
  });
});
