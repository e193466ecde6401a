// The `Kernels` typings in src/wasm/kernels.ts are written by hand: this holds them to the WASM module's
// real exports, name for name and argument count for argument count (a WASM export's `length` is its
// parameter count), so a kernel whose signature changes cannot keep a stale type.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WASM_URL } from '../util/wasm.js';

/** name -> parameter count, from the `interface Kernels { ... }` block of kernels.ts. */
function typedKernels(): Map<string, number> {
  const source = readFileSync(new URL('../../src/wasm/kernels.ts', import.meta.url), 'utf8');
  const body = /export interface Kernels \{([\s\S]*?)\n\}/.exec(source)?.[1];
  if (!body) throw new Error('no Kernels interface in kernels.ts');
  const out = new Map<string, number>();
  for (const m of body.matchAll(/^\s*(\w+)\(([^)]*)\)\s*:/gm)) out.set(m[1], m[2].trim() === '' ? 0 : m[2].split(',').length);
  return out;
}

describe('Kernels typings', () => {
  it('name every function the WASM core exports, with its number of arguments, and nothing else', async () => {
    const module = await WebAssembly.compile(readFileSync(WASM_URL));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const exported = new Map<string, number>();
    for (const [name, value] of Object.entries(instance.exports)) if (typeof value === 'function') exported.set(name, value.length);
    const typed = typedKernels();
    expect(typed.size).toBeGreaterThan(30);
    expect([...typed.keys()].sort()).toEqual([...exported.keys()].sort());
    for (const [name, n] of typed) expect(`${name}: ${n}`).toBe(`${name}: ${exported.get(name)}`);
  });
});
