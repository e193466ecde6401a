// Finds, compiles and instantiates the WASM core the same way in every host.
// No top-level await and no static import of Node modules: Node's fs is imported lazily (host/node.ts), and only when
// the module must be read from a file: URL or a path.
import { BimambaError } from '../errors.js';
import * as host from '../host/node.js';

/** Where the WASM core comes from. Cloudflare Workers must pass a precompiled `WebAssembly.Module`. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response;

/**
 * The four builds of the core (asconfig.json): SIMD128, optionally with relaxed SIMD, and optionally
 * for threads (shared memory; its memory import only accepts a shared memory).
 */
export interface CoreBuild {
  threads: boolean;
  relaxed: boolean;
}

const compiled = new Map<unknown, Promise<WebAssembly.Module>>();

/** A build's default location: beside the bundle (dist/). Each URL is written out for bundlers to see. */
function defaultWasmUrl(build: CoreBuild): URL {
  if (build.threads) {
    return build.relaxed ? new URL('./bimamba-threads-relaxed.wasm', import.meta.url) : new URL('./bimamba-threads.wasm', import.meta.url);
  }
  return build.relaxed ? new URL('./bimamba-relaxed.wasm', import.meta.url) : new URL('./bimamba.wasm', import.meta.url);
}

// The smallest module using a relaxed SIMD instruction: (func (result v128) (i8x16.relaxed_swizzle (v128.const 0) (v128.const 0)))
const RELAXED_PROBE = (() => {
  const v128Zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 0x0a, 0x2b, 1, 0x29, 0, ...v128Zero, ...v128Zero, 0xfd, 0x80, 0x02, 0x0b]);
})();

/** Whether this host runs relaxed SIMD (V8 ships it from Chrome 114 / Node 22; Node 20 needs a flag). */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

async function readUrlOrPath(where: URL | string): Promise<ArrayBuffer | Response> {
  let url: URL | null;
  try {
    url = typeof where === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(where) ? null : new URL(String(where));
  } catch (e) {
    throw new BimambaError('WASM_LOAD', `the WASM core location ${String(where)} is not a valid URL or path`, { cause: e });
  }
  try {
    if (url && url.protocol !== 'file:') return await fetch(url);
    // A file: URL or a plain path: Node and Deno both provide node:fs/promises.
    const fs = await host.fsPromises();
    const bytes = await fs.readFile(url ?? where);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  } catch (e) {
    throw new BimambaError('WASM_LOAD', `the WASM core could not be read from ${url?.href ?? String(where)}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

async function compile(source: WasmSource | undefined, build: CoreBuild): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let data: ArrayBuffer | ArrayBufferView | Response;
  if (source === undefined) data = await readUrlOrPath(defaultWasmUrl(build));
  else if (typeof source === 'string' || source instanceof URL) data = await readUrlOrPath(source);
  else data = source;
  if (typeof Response !== 'undefined' && data instanceof Response) {
    if (!data.ok) throw new BimambaError('WASM_LOAD', `fetching the WASM core failed: HTTP ${data.status}`);
    try {
      data = await data.arrayBuffer();
    } catch (e) {
      throw new BimambaError('WASM_LOAD', `reading the WASM core failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }
  try {
    return await WebAssembly.compile(data as BufferSource);
  } catch (e) {
    throw new BimambaError('WASM_LOAD', `the WASM core could not be compiled: ${(e as Error).message}`);
  }
}

/**
 * Compile (once per source) the WASM core. Without a source: the default build beside the bundle,
 * single-threaded unless `build.threads`, with relaxed SIMD where the host supports it.
 */
export function compileCore(source?: WasmSource, build: Partial<CoreBuild> = {}): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  const b: CoreBuild = { threads: build.threads ?? false, relaxed: build.relaxed ?? relaxedSimdSupported() };
  const key = source ?? `default:${b.threads}:${b.relaxed}`;
  let p = compiled.get(key);
  if (!p) {
    p = compile(source, b);
    compiled.set(key, p);
    p.catch(() => compiled.delete(key));
  }
  return p;
}

/** Instantiate a compiled core over `memory` (shared for a threads build). */
export async function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WebAssembly.Instance> {
  try {
    return await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new BimambaError('WASM_LOAD', `the WASM core could not be instantiated: ${(e as Error).message}`);
  }
}
