// vitest globalSetup: build dist/bimamba.wasm when it is missing or older than its sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wasmPath = join(root, 'dist', 'bimamba.wasm');

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

export function isWasmStale(): boolean {
  return !existsSync(wasmPath) || statSync(wasmPath).mtimeMs < newestSourceTime();
}

export default function setup(): void {
  if (!isWasmStale()) return;
  // build beside the target and rename, so a concurrent reader never sees a half-written file
  const tmp = `${wasmPath}.${process.pid}.tmp`;
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  execFileSync(process.execPath, [asc, 'assembly/index.ts', '--target', 'release', '--outFile', tmp], { cwd: root, stdio: 'inherit' });
  renameSync(tmp, wasmPath);
}
