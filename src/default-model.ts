// The built-in model: models/default.bimamba in the package, one folder above the bundle (dist/) and
// above the sources (src/). The path is not a literal inside `new URL(...)` on purpose: bundlers copy
// such literals into every build as assets, and a 136 MiB model should be served only when wanted.
const DEFAULT_MODEL = '../models/default.bimamba';

/** Where the built-in model lies beside this module: a file: URL in Node and Deno, an http(s) URL in a page. */
export function defaultModelUrl(): URL {
  return new URL(DEFAULT_MODEL, import.meta.url);
}
