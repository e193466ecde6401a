// Names for cached models (`bimamba pull URL --name NAME`, `-m NAME`): short, plain file-name-safe
// words, never a path. Node only (the CLI).
import { BimambaError } from '../errors.js';
import type { Store } from './store.js';
import type { CachedModel } from './types.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Whether `name` is a model name: letters, digits, '.', '_' and '-', starting with a letter or digit, no '..'. */
export const isName = (name: string): boolean => NAME.test(name) && !name.includes('..');

/** `name`, checked to be a model name. */
export function checkName(name: string): string {
  if (!isName(name)) {
    throw new BimambaError('BAD_ARGUMENT', `invalid model name ${JSON.stringify(name)}: a name is up to 100 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..' (it is never a path)`);
  }
  return name;
}

/** The name a URL gets without --name: its last path segment without `.bimamba`, made safe. */
export function defaultName(url: URL): string {
  const last = decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '').replace(/\.bimamba$/i, '');
  const safe = last.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/\.{2,}/g, '.').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
  return safe || url.hostname.replace(/[^A-Za-z0-9.-]/g, '-') || 'model';
}

/** The cached model of that name (complete or not), or undefined. */
export async function findByName(store: Store, name: string): Promise<CachedModel | undefined> {
  return (await store.list()).find((m) => m.name === name);
}
