// Finds, compiles and instantiates the WASM core the same way in every host.
// No top-level await and no static import of Node modules: Node's fs is imported lazily, and only when
// the module must be read from a file: URL or a path.
import { BimambaError } from '../errors.js';

/** Where the WASM core comes from. Cloudflare Workers must pass a precompiled `WebAssembly.Module`. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response;

const compiled = new Map<unknown, Promise<WebAssembly.Module>>();

/** The built module's default location: beside the bundle (dist/bimamba.wasm). */
function defaultWasmUrl(): URL {
  return new URL('./bimamba.wasm', import.meta.url);
}

async function readUrlOrPath(where: URL | string): Promise<ArrayBuffer | Response> {
  const url = typeof where === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(where) ? null : new URL(String(where));
  if (url && url.protocol !== 'file:') return fetch(url);
  // A file: URL or a plain path: Node and Deno both provide node:fs/promises.
  const fs = await import('node:fs/promises');
  const bytes = await fs.readFile(url ?? where);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function compile(source: WasmSource | undefined): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let data: ArrayBuffer | ArrayBufferView | Response;
  if (source === undefined) data = await readUrlOrPath(defaultWasmUrl());
  else if (typeof source === 'string' || source instanceof URL) data = await readUrlOrPath(source);
  else data = source;
  if (typeof Response !== 'undefined' && data instanceof Response) {
    if (!data.ok) throw new BimambaError('WASM_LOAD', `fetching the WASM core failed: HTTP ${data.status}`);
    data = await data.arrayBuffer();
  }
  try {
    return await WebAssembly.compile(data as BufferSource);
  } catch (e) {
    throw new BimambaError('WASM_LOAD', `the WASM core could not be compiled: ${(e as Error).message}`);
  }
}

/** Compile (once per source) the WASM core. */
export function compileCore(source?: WasmSource): Promise<WebAssembly.Module> {
  const key = source ?? 'default';
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  let p = compiled.get(key);
  if (!p) {
    p = compile(source);
    compiled.set(key, p);
    p.catch(() => compiled.delete(key));
  }
  return p;
}

/** Instantiate the core over a fresh memory. */
export async function instantiateCore(source: WasmSource | undefined, memory: WebAssembly.Memory): Promise<WebAssembly.Instance> {
  const module = await compileCore(source);
  return WebAssembly.instantiate(module, { env: { memory } });
}
