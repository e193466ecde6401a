// The Node modules the library reads, each imported only when first needed (files, core count, worker
// threads). They live in this one module so that the Worker build (dist/worker/, see rollup.config.js)
// can put no-node.ts in its place and import no `node:` module at all. Node, Deno and Bun have them all.
export const fsPromises = () => import('node:fs/promises');
export const path = () => import('node:path');
export const os = () => import('node:os');
export const workerThreads = () => import('node:worker_threads');
/** The model cache on disk (src/cache/disk.ts): only hosts with files have one. */
export const diskCache = () => import('../cache/disk.js');
