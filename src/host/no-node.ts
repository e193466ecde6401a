// node.ts for the Worker and browser builds: the same names, no `node:` import. A Worker reads no files and
// starts no threads: it passes the model's bytes and the compiled WASM module instead (see the README's
// Workers section); a page passes URLs, Blobs or bytes, and its threads are Web Workers.
import { BimambaError } from '../errors.js';

function missing(what: string): never {
  throw new BimambaError('UNSUPPORTED', `${what} needs Node, Deno or Bun; the Worker and browser builds of bimamba have no node: modules (pass a URL, a Blob or bytes instead of a path)`);
}

export const fsPromises = async (): Promise<typeof import('node:fs/promises')> => missing('reading or writing files');
export const path = async (): Promise<typeof import('node:path')> => missing('file paths');
export const os = async (): Promise<typeof import('node:os')> => missing('counting cores with node:os');
export const workerThreads = async (): Promise<typeof import('node:worker_threads')> => missing('worker threads');
export const diskCache = async (): Promise<typeof import('../cache/disk.js')> => missing('a model cache on disk');
