// `bimamba rm NAME`: remove a model (by its name or URL) from the cache directory.
import type { Command } from 'commander';
import { diskStore } from '../cache/disk.js';
import { checkName, findByName } from '../cache/names.js';
import { BimambaError } from '../errors.js';
import { asUrl } from '../location.js';
import { toStdout } from './terminal.js';

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('remove a model from the cache')
    .argument('<name>', 'the name `bimamba list` shows, or the URL')
    .action(async (what: string) => {
      const store = diskStore();
      const url = asUrl(what)?.href ?? (await findByName(store, checkName(what)))?.url;
      if (!url || !(await store.delete(url))) throw new BimambaError('BAD_ARGUMENT', `no cached model named ${what} (\`bimamba list\` shows them)`);
      toStdout(`removed ${what}\n`);
    });
}
