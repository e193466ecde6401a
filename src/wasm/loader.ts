// The one module that owns the WASM core's lifecycle, in every host and on every thread: where a build
// comes from, compiling it (once per build or location), the import object, and instantiating it over a
// memory into the typed kernels. Worker threads instantiate with the same import object (pool.ts posts
// it to them). Every failure is a BimambaError: WASM_LOAD for a core that cannot be read, fetched,
// compiled or instantiated; BAD_ARGUMENT for a source of the wrong kind.
// No top-level await and no static import of Node modules: node:fs is imported lazily (host/node.ts), and
// only when the module must be read from a file: URL or a path.
import { BimambaError } from '../errors.js';
import * as host from '../host/node.js';
import { asUrl, describeLocation } from '../location.js';
import type { Kernels } from './kernels.js';

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

/** The core's imports: only its memory (`--runtime stub`, no host functions), so it can be posted to workers. */
export function importObject(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { env: { memory } };
}

const loadError = (what: string, e: unknown) =>
  new BimambaError('WASM_LOAD', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });

/** The bytes at a URL or path (fetched, or read with node:fs for paths and file: URLs). */
async function readLocation(where: URL | string): Promise<ArrayBuffer | Response> {
  const url = asUrl(where);
  const name = describeLocation(where);
  if (url && url.protocol !== 'file:') {
    try {
      return await fetch(url);
    } catch (e) {
      throw loadError(`fetching the WASM core from ${name} failed`, e);
    }
  }
  const fs = await host.fsPromises(); // outside the try: a host without files (the Worker build) says so itself
  try {
    const bytes = await fs.readFile(url ?? where);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  } catch (e) {
    throw loadError(`reading the WASM core from ${name} failed`, e);
  }
}

async function compile(source: WasmSource | undefined, build: CoreBuild): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let data: ArrayBuffer | ArrayBufferView | Response;
  if (source === undefined) data = await readLocation(defaultWasmUrl(build));
  else if (typeof source === 'string' || source instanceof URL) data = await readLocation(source);
  else data = source;
  if (typeof Response !== 'undefined' && data instanceof Response) {
    if (!data.ok) throw new BimambaError('WASM_LOAD', `fetching the WASM core failed: HTTP ${data.status}${data.url ? ` for ${data.url}` : ''}`);
    try {
      data = await data.arrayBuffer();
    } catch (e) {
      throw loadError('reading the WASM core from the response failed', e);
    }
  }
  try {
    return await WebAssembly.compile(data as BufferSource);
  } catch (e) {
    throw loadError('the WASM core could not be compiled', e);
  }
}

// Compiled modules: the default builds and URLs/paths by name (a Module is a few hundred KB, and there
// are four builds), bytes by their buffer object, held weakly so that the caller's buffer is not kept
// alive. A Response is read once and never cached. A failed compile is forgotten, so a retry retries.
const byName = new Map<string, Promise<WebAssembly.Module>>();
const byBytes = new WeakMap<object, Promise<WebAssembly.Module>>();

function cached<K>(cache: { get(k: K): Promise<WebAssembly.Module> | undefined; set(k: K, v: Promise<WebAssembly.Module>): unknown; delete(k: K): unknown }, key: K, make: () => Promise<WebAssembly.Module>) {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

const isResponse = (s: unknown): s is Response => typeof Response !== 'undefined' && s instanceof Response;

/**
 * Compile the WASM core (once per build, URL or path, or buffer). Without a source: the default build
 * beside the bundle, single-threaded unless `build.threads`, with relaxed SIMD where the host supports it.
 */
export function compileCore(source?: WasmSource, build: Partial<CoreBuild> = {}): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  const b: CoreBuild = { threads: build.threads ?? false, relaxed: build.relaxed ?? relaxedSimdSupported() };
  if (source === undefined) return cached(byName, `build:${b.threads ? 'threads' : 'single'}:${b.relaxed ? 'relaxed' : 'simd'}`, () => compile(undefined, b));
  if (typeof source === 'string' || source instanceof URL) {
    let key: string;
    try {
      key = `at:${asUrl(source)?.href ?? source}`;
    } catch (e) {
      return Promise.reject(e);
    }
    return cached(byName, key, () => compile(source, b));
  }
  if (isResponse(source)) return compile(source, b);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bufferKey = ArrayBuffer.isView(source) ? source.buffer : source;
    // a view is cached only when it covers its whole buffer (another view of the same buffer may differ)
    if (ArrayBuffer.isView(source) && (source.byteOffset !== 0 || source.byteLength !== bufferKey.byteLength)) return compile(source, b);
    return cached(byBytes, bufferKey, () => compile(source, b));
  }
  return Promise.reject(new BimambaError('BAD_ARGUMENT', 'the WASM core must be a WebAssembly.Module, bytes, a URL, a path or a Response'));
}

/** Instantiate a compiled core over `memory` (shared for a threads build): its kernels. */
export async function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Kernels> {
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, importObject(memory));
  } catch (e) {
    throw loadError('the WASM core could not be instantiated', e);
  }
  return instance.exports as unknown as Kernels;
}
