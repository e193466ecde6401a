// vitest globalSetup: build dist/bimamba.wasm (and the relaxed-SIMD and threads builds beside it) when
// missing or older than their sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wasmPath = join(root, 'dist', 'bimamba.wasm');
/** asconfig.json targets and their files. */
const TARGETS: [string, string][] = [
  ['release', wasmPath],
  ['relaxed', join(root, 'dist', 'bimamba-relaxed.wasm')],
  ['threads', join(root, 'dist', 'bimamba-threads.wasm')],
  ['threads-relaxed', join(root, 'dist', 'bimamba-threads-relaxed.wasm')],
];

/** Newest modification time (ms) of the files the WASM is built from. */
function newestSourceTime(): number {
  const sources = [join(root, 'asconfig.json')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) sources.push(path);
    }
  };
  walk(join(root, 'assembly'));
  return Math.max(...sources.map((p) => statSync(p).mtimeMs));
}

const stale = (path: string, newest: number) => !existsSync(path) || statSync(path).mtimeMs < newest;

export function isWasmStale(): boolean {
  return stale(wasmPath, newestSourceTime());
}

export default function setup(): void {
  const newest = newestSourceTime();
  for (const [target, path] of TARGETS) {
    if (!stale(path, newest)) continue;
    // build beside the target and rename, so a concurrent reader never sees a half-written file
    const tmp = `${path}.${process.pid}.tmp`;
    const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
    execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', target, '--outFile', tmp], { cwd: root, stdio: 'inherit' });
    renameSync(tmp, path);
  }
}
