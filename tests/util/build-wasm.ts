// vitest globalSetup: build dist/bimamba.wasm (and the relaxed-SIMD and threads builds beside it) when
// missing or older than their sources, and the test build (assembly/reference.ts: the shipped kernels
// and the whole-call reference forms the kernel tests compare with) into tests/out/, which is not shipped.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wasmPath = join(root, 'dist', 'bimamba.wasm');
/** The test build: tests/util/wasm.ts loads it for the kernel tests. */
export const TEST_WASM_PATH = join(root, 'tests', 'out', 'wasm', 'bimamba-test.wasm');
/** asconfig.json targets: entry file, target, output. */
const TARGETS: [string, string, string][] = [
  ['assembly/index.ts', 'release', wasmPath],
  ['assembly/index.ts', 'relaxed', join(root, 'dist', 'bimamba-relaxed.wasm')],
  ['assembly/index.ts', 'threads', join(root, 'dist', 'bimamba-threads.wasm')],
  ['assembly/index.ts', 'threads-relaxed', join(root, 'dist', 'bimamba-threads-relaxed.wasm')],
  ['assembly/reference.ts', 'test', TEST_WASM_PATH],
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
  for (const [entry, target, path] of TARGETS) {
    if (!stale(path, newest)) continue;
    mkdirSync(dirname(path), { recursive: true });
    // build beside the target and rename, so a concurrent reader never sees a half-written file
    const tmp = `${path}.${process.pid}.tmp`;
    const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
    execFileSync(process.execPath, [asc, entry, '--target', target, '--outFile', tmp], { cwd: root, stdio: 'inherit' });
    renameSync(tmp, path);
  }
}
