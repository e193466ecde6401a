// `bimamba list`: the models in the cache directory, with their names, sizes and URLs.
import type { Command } from 'commander';
import { cacheDirectory, diskStore } from '../cache/disk.js';
import { toStdout } from './terminal.js';

const size = (n: number) => (n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the models in the cache (bimamba pull puts them there)')
    .action(async () => {
      const models = await diskStore().list();
      if (models.length === 0) {
        toStdout(`no models in ${cacheDirectory()}\n`);
        return;
      }
      const rows = models.map((m) => [m.name ?? '-', m.complete ? size(m.bytes) : `${size(m.bytes)} of ${size(m.totalBytes)} (partial)`, m.url]);
      const widths = [0, 1].map((i) => Math.max(4, ...rows.map((r) => r[i].length))); // at least the headings' 4 letters
      const line = (r: string[]) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}\n`;
      toStdout(line(['NAME', 'SIZE', 'URL']) + rows.map(line).join(''));
    });
}
