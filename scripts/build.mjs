// `npm run build`: build what is missing or older than its sources, nothing else. The WASM core (one asc run
// per asconfig.json target) from assembly/; the JS bundles and their .d.ts (one rollup run) from src/. So
// `npm start`, `npm run demo` and `npm pack` right after `npm install` (whose `prepare` built dist/) start at
// once. `--force` builds everything; `--dry-run` only says what it would build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (...parts) => join(ROOT, ...parts);

/** Every file under `dir` whose name ends with one of `endings`. */
function filesUnder(dir, endings) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path, endings));
    else if (endings.some((e) => entry.name.endsWith(e))) found.push(path);
  }
  return found;
}

const WASM_TARGETS = { release: 'bimamba.wasm', relaxed: 'bimamba-relaxed.wasm', threads: 'bimamba-threads.wasm', 'threads-relaxed': 'bimamba-threads-relaxed.wasm' };

/** What is built, from what, by which command. */
const STEPS = [
  ...Object.entries(WASM_TARGETS).map(([target, file]) => ({
    name: `WASM core (${target})`,
    sources: () => [at('asconfig.json'), ...filesUnder(at('assembly'), ['.ts'])],
    outputs: [at('dist', file)],
    command: [at('node_modules', 'assemblyscript', 'bin', 'asc.js'), 'assembly/index.ts', '--target', target],
  })),
  {
    name: 'JS bundles and types',
    sources: () => [at('rollup.config.js'), at('tsconfig.json'), at('package.json'), ...['package-lock.json'].map((f) => at(f)).filter(existsSync), ...filesUnder(at('src'), ['.ts'])],
    outputs: ['index.js', 'server.js', 'cli.js', 'browser.js', 'index.d.ts', 'server.d.ts', 'worker/index.js', 'worker/server.js'].map((f) => at('dist', f)),
    command: [at('node_modules', 'rollup', 'dist', 'bin', 'rollup'), '-c', 'rollup.config.js'],
  },
];

/** Why `step` must run, or null when every output is newer than every source. */
function reason(step) {
  const missing = step.outputs.find((f) => !existsSync(f));
  if (missing) return `${missing.slice(ROOT.length)} is missing`;
  const oldest = Math.min(...step.outputs.map((f) => statSync(f).mtimeMs));
  const changed = step.sources().find((f) => statSync(f).mtimeMs > oldest);
  return changed ? `${changed.slice(ROOT.length)} changed` : null;
}

const force = process.argv.includes('--force');
const dryRun = process.argv.includes('--dry-run');
for (const step of STEPS) {
  const why = force ? 'asked to (--force)' : reason(step);
  if (why === null) continue;
  console.error(`build: ${step.name}: ${why}`);
  if (dryRun) continue;
  const started = new Date();
  execFileSync(process.execPath, step.command, { cwd: ROOT, stdio: 'inherit' });
  // the outputs are as new as the sources when the build began: a file saved during the build is newer
  for (const f of step.outputs) utimesSync(f, started, started);
}
