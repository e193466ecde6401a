// `-m NAME`: a model that `bimamba pull` put in the cache, where no file of that name exists.
import { stat } from 'node:fs/promises';
import { diskStore } from '../cache/disk.js';
import { findByName, isName } from '../cache/names.js';

/** The cached file for `-m NAME`, or null (NAME is a path that exists, or no cached model's name). */
export async function cachedModelPath(name: string): Promise<string | null> {
  if (await stat(name).then(() => true, () => false)) return null; // a file (or folder) of that name: the path wins
  if (!isName(name)) return null;
  const store = diskStore();
  const found = await findByName(store, name);
  return found?.complete ? store.fileOf(found.url) : null;
}
