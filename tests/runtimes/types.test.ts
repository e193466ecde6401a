// The published types as a strict TypeScript consumer sees them, without an install: the consumer's
// program (consumer/app.ts, which uses `bimamba` and `bimamba/server` together) type-checks against this
// checkout's dist/*.d.ts, linked in as node_modules/bimamba. consumer.test.ts does the same from real
// installs (slower); this one fails at once when two entry points declare one type twice.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './hosts.js';
import { DIST, ROOT } from './model.js';

const scratch = mkdtempSync(join(tmpdir(), 'bimamba-types-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const TSCONFIG = {
  compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'], noEmit: true, skipLibCheck: false },
  include: ['*.ts'],
};

/** tsc over `files` (name -> source) in a scratch project where `bimamba` is this checkout. */
async function typeCheck(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'bimamba'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  const r = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: dir, timeoutMs: 120_000 });
  return r.stdout + r.stderr;
}

describe('published types', () => {
  it('every public type is declared once: bimamba/server imports them from bimamba', () => {
    const server = readFileSync(join(DIST, 'server.d.ts'), 'utf8');
    for (const name of ['Model', 'Session', 'BimambaError']) expect(server, name).not.toMatch(new RegExp(`declare class ${name}\\b`));
  });

  it("a Model from 'bimamba' is what createApp from 'bimamba/server' takes (strict)", async () => {
    const app = readFileSync(join(ROOT, 'tests', 'runtimes', 'consumer', 'app.ts'), 'utf8');
    expect(app).toMatch(/createApp\(/);
    expect(await typeCheck('consumer', { 'app.ts': app })).toBe('');
  });

  it('and a wrong option is still an error (the check has teeth)', async () => {
    const wrong = `import { loadModel } from 'bimamba';\nimport { createApp } from 'bimamba/server';\nconst model = await loadModel();\ncreateApp({ model, maxActive: 'four' });\n`;
    expect(await typeCheck('wrong', { 'app.ts': wrong })).toMatch(/app\.ts\(4,\d+\): error TS2322/);
  });
});
