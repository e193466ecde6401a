// Where a file named by a string or URL lives: a URL (fetched, unless file:) or a local path (read with
// node:fs, imported lazily so that no Node module is loaded until a path is read). The model loader and
// the WASM loader both use this, so they agree on what a string means.
import { BimambaError } from './errors.js';

/**
 * A URL, or null for a plain path. A string is a URL when it starts with a scheme of two or more
 * characters (`https:`, `file:`): `C:\models\x.bimamba` and `C:/x` are Windows paths, `/x` and `x` paths.
 */
export function asUrl(source: string | URL): URL | null {
  if (source instanceof URL) return source;
  if (!/^[a-z][a-z0-9+.-]+:/i.test(source)) return null;
  try {
    return new URL(source);
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `not a valid URL: ${source}`, { cause: e });
  }
}

/** How a location is named in messages. */
export function describeLocation(source: string | URL): string {
  return source instanceof URL ? source.href : source;
}
