// The `Kernels` typings in src/wasm/kernels.ts are written by hand: this holds them to the WASM module's
// real exports, name for name and argument count for argument count (a WASM export's `length` is its
// parameter count), so a kernel whose signature changes cannot keep a stale type. The shipped builds
// export exactly the kernels the runtime calls; the reference forms live in the test build only
// (tests/util/reference-kernels.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SPLIT, SPLIT_KERNELS } from '../../src/wasm/split-kernels.js';
import { enableRelaxedSimd, TEST_WASM_URL, WASM_BUILDS } from '../util/wasm.js';

/** name -> parameter count, from the `interface <name> ... { ... }` block of a file. */
function typed(file: URL, name: string): Map<string, number> {
  const source = readFileSync(file, 'utf8');
  const body = new RegExp(`export interface ${name}[^{]*\\{([\\s\\S]*?)\\n\\}`).exec(source)?.[1];
  if (!body) throw new Error(`no ${name} interface in ${file}`);
  const out = new Map<string, number>();
  for (const m of body.matchAll(/^\s*(\w+)\(([^)]*)\)\s*:/gm)) out.set(m[1], m[2].trim() === '' ? 0 : m[2].split(',').length);
  return out;
}
const KERNELS = typed(new URL('../../src/wasm/kernels.ts', import.meta.url), 'Kernels');
const REFERENCE = typed(new URL('../util/reference-kernels.ts', import.meta.url), 'ReferenceKernels');

/** The functions a build exports, with their parameter counts. */
async function exportsOf(path: string | URL, shared: boolean): Promise<Map<string, number>> {
  enableRelaxedSimd();
  const module = await WebAssembly.compile(readFileSync(path));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exported = new Map<string, number>();
  for (const [name, value] of Object.entries(instance.exports)) if (typeof value === 'function') exported.set(name, value.length);
  return exported;
}

/** Every src/ file but the typings, as one text: where the runtime names the kernels it calls. */
function runtimeSource(): string {
  const root = fileURLToPath(new URL('../../src', import.meta.url));
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !path.endsWith(join('wasm', 'kernels.ts'))) texts.push(readFileSync(path, 'utf8'));
    }
  };
  walk(root);
  return texts.join('\n');
}

describe('Kernels typings', () => {
  for (const [build, path] of Object.entries(WASM_BUILDS)) {
    it(`name every function ${build} exports, with its number of arguments, and nothing else`, async () => {
      const exported = await exportsOf(path, build.startsWith('threads'));
      expect(KERNELS.size).toBeGreaterThan(25);
      expect([...KERNELS.keys()].sort()).toEqual([...exported.keys()].sort());
      for (const [name, n] of KERNELS) expect(`${name}: ${n}`).toBe(`${name}: ${exported.get(name)}`);
    });
  }

  it('and the reference typings name what the test build adds, and nothing the shipped builds have', async () => {
    const exported = await exportsOf(TEST_WASM_URL, false);
    const all = new Map([...KERNELS, ...REFERENCE]);
    expect([...all.keys()].sort()).toEqual([...exported.keys()].sort());
    for (const [name, n] of all) expect(`${name}: ${n}`).toBe(`${name}: ${exported.get(name)}`);
    for (const name of REFERENCE.keys()) expect(KERNELS.has(name), name).toBe(false);
    expect(REFERENCE.size).toBe(19);
  });
});

describe('the shipped binary', () => {
  it('exports exactly the kernels the runtime calls: each is named in src/ (a split kernel in the dispatch table), a reference form nowhere', () => {
    const source = runtimeSource();
    // a kernel is called as raw.x / k.x / kernels.x (kernel-set.ts, core.ts) or named in the split table
    const called = (name: string) => new RegExp(`\\b(raw|k|kernels)\\.${name}\\b|'${name}'`).test(source);
    for (const name of KERNELS.keys()) expect(called(name), `${name} is exported but the runtime never calls it`).toBe(true);
    for (const name of REFERENCE.keys()) expect(called(name), `${name} is called by the runtime but only in the test build`).toBe(false);
    for (const name of SPLIT_KERNELS) expect(KERNELS.has(name), name).toBe(true);
  });
});

describe('kernel names', () => {
  // One scheme (assembly/README.md, "Names"): snake_case; a kernel of one weight storage starts with it
  // (onebit, f32, f16, i8, q4), then `fast` for the fast path; a range form ends with what its range
  // counts (its split axis), then `bf16` for a bf16 state.
  const STORAGES = ['onebit', 'f32', 'f16', 'i8', 'q4'];
  it('are snake_case, and a storage comes first', () => {
    for (const name of KERNELS.keys()) {
      expect(name, name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      const words = name.split('_');
      const storage = words.findIndex((w) => STORAGES.includes(w));
      if (storage >= 0) expect(storage, name).toBe(0);
    }
  });

  it('a split kernel names its split axis last (before bf16)', () => {
    for (const s of Object.values(SPLIT)) {
      const words = s.kernel.split('_');
      const last = words.at(-1) === 'bf16' ? words.at(-2) : words.at(-1);
      expect(`${s.kernel}: ${last}`).toBe(`${s.kernel}: ${s.axis}`);
    }
  });
});
