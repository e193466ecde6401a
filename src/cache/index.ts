// Model caching's entry points: which store a `cache` option means in this host, and the public
// listCachedModels() / deleteCachedModel().
import { BimambaError } from '../errors.js';
import type { ModelSource } from '../format/byte-reader.js';
import * as host from '../host/node.js';
import { asUrl } from '../location.js';
import type { BimambaHeader } from '../format/bimamba.js';
import { browserStore, offerPersistence, responseStore } from './browser.js';
import { deliver, type Origin } from './delivery.js';
import type { Store } from './store.js';
import type { CachedModel, CacheObject, CacheOption } from './types.js';

/** Node, Deno and Bun keep the cache on disk; browsers and Workers in OPFS or the Cache API. */
function hasDisk(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string' && typeof (globalThis as { document?: unknown }).document === 'undefined';
}

function isCacheObject(v: unknown): v is CacheObject {
  const o = v as Partial<CacheObject> | null;
  return typeof o === 'object' && o !== null && ['get', 'put', 'delete', 'keys'].every((k) => typeof (o as Record<string, unknown>)[k] === 'function');
}

/** Check a `cache` load option. */
export function checkCacheOption(cache: unknown): asserts cache is CacheOption | undefined {
  if (cache === undefined || typeof cache === 'boolean' || cache === 'revalidate' || isCacheObject(cache)) return;
  throw new BimambaError('BAD_ARGUMENT', `invalid cache option: ${typeof cache === 'string' ? JSON.stringify(cache) : typeof cache} (true, false, 'revalidate', or an object with get, put, delete and keys)`);
}

/** The store a cache option means here; null where this host has none (a warning, then a plain load). */
export async function storeFor(cache: true | 'revalidate' | CacheObject): Promise<Store | null> {
  if (typeof cache === 'object') return responseStore(cache, 'custom');
  if (hasDisk()) return (await host.diskCache()).diskStore();
  return browserStore();
}

/** The http(s) URL a source names, or null (paths, bytes and file: URLs are not cached). */
export function cacheableUrl(source: ModelSource): URL | null {
  if (typeof source !== 'string' && !(source instanceof URL)) return null;
  const url = asUrl(source);
  return url && (url.protocol === 'http:' || url.protocol === 'https:') ? url : null;
}

/**
 * The models in the cache (by default this host's: OPFS or the Cache API in a browser, the cache directory
 * in Node, Deno and Bun), with the bytes each holds; partial downloads are listed with `complete: false`.
 */
export async function listCachedModels(options: { cache?: CacheObject } = {}): Promise<CachedModel[]> {
  const store = await storeFor(options.cache ?? true);
  return store ? store.list() : [];
}

/** Remove a model (and any partial download of it) from the cache; whether there was one. */
export async function deleteCachedModel(url: string | URL, options: { cache?: CacheObject } = {}): Promise<boolean> {
  const href = url instanceof URL ? url.href : (asUrl(url)?.href ?? url);
  const store = await storeFor(options.cache ?? true);
  return store ? store.delete(href) : false;
}

export interface CacheLoadOptions {
  cache?: CacheOption;
  onWarning?: (warning: BimambaError) => void;
}

/** How the cache hands a source to the loader: where it comes from, and the header check the loader must run. */
export interface CacheVia {
  origin: Origin;
  check: (header: BimambaHeader) => void;
}

/**
 * Load `source` with `load`, through the cache when `options.cache` asks for it and the source is an
 * http(s) URL (`via` is then set: the loader must call `via.check` on the header and verify the data).
 */
export async function throughCache<T>(source: ModelSource, options: CacheLoadOptions, load: (source: ModelSource, via: CacheVia | null) => Promise<T>): Promise<T> {
  checkCacheOption(options.cache);
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw new BimambaError('BAD_ARGUMENT', 'onWarning must be a function');
  const url = options.cache ? cacheableUrl(source) : null;
  if (!url || !options.cache) return load(source, null);
  const warn = options.onWarning ?? ((w: BimambaError) => console.warn(`bimamba: ${w.message}`));
  let store: Store | null;
  try {
    store = await storeFor(options.cache);
  } catch (e) {
    store = null;
    warn(new BimambaError('UNSUPPORTED', `the model cache cannot be opened (${(e as Error).message})`, { cause: e }));
  }
  if (!store) {
    warn(new BimambaError('UNSUPPORTED', `this host has no storage for a model cache: ${url.href} loads without a cached copy`));
    return load(source, null);
  }
  if (store.kind === 'opfs' || store.kind === 'cache-api') offerPersistence();
  return deliver(url, { store, revalidate: options.cache === 'revalidate', warn }, (src, check, origin) => load(src, { origin, check }));
}
