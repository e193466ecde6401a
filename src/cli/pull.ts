// `bimamba pull URL [--name NAME]`: download a model into the cache directory (as `ollama pull`),
// verified against its checksums, resumed where an earlier pull stopped, with a progress bar.
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { cacheDirectory, diskStore } from '../cache/disk.js';
import { deliver } from '../cache/delivery.js';
import { checkName, defaultName, findByName } from '../cache/names.js';
import { BimambaError } from '../errors.js';
import { verifyBimambaFile } from '../format/bimamba.js';
import { asUrl } from '../location.js';
import { toStderr, toStdout } from './terminal.js';

const MB = 1024 * 1024;

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('download a model into the cache ($BIMAMBA_CACHE, else $XDG_CACHE_HOME/bimamba, else ~/.cache/bimamba); -m NAME runs it')
    .argument('<url>', 'http(s) URL of a .bimamba file')
    .option('--name <name>', 'the name to run it by (default: the file name without .bimamba)')
    .action(async (source: string, o: { name?: string }) => {
      const url = asUrl(source);
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new BimambaError('BAD_ARGUMENT', `not an http(s) URL: ${source}`);
      const name = checkName(o.name ?? defaultName(url));
      const store = diskStore();
      const taken = await findByName(store, name);
      if (taken && taken.url !== url.href) throw new BimambaError('BAD_ARGUMENT', `the name ${name} is taken by ${taken.url}: choose another with --name, or \`bimamba rm ${name}\` first`);
      const bar = process.stderr.isTTY ? new SingleBar({ format: 'pull |{bar}| {percentage}% | {value}/{total} MB | {source}' }, Presets.shades_classic) : null;
      let lastLine = -1;
      const header = await deliver(url, { store, revalidate: false, name, warn: (w) => toStderr(`warning: ${w.message}\n`) }, (src, check, origin) => {
        let started = false;
        let dataStart = 0; // progress counts the whole file, header included
        return verifyBimambaFile(src, {
          onHeader: (h) => {
            check(h);
            dataStart = h.dataStart;
          },
          onProgress: (dataDone, dataTotal) => {
            const [done, total] = [dataStart + dataDone, dataStart + dataTotal];
            if (!started) {
              bar?.start(Math.ceil(total / MB), 0, { source: origin });
              started = true;
            }
            bar?.update(Math.floor(done / MB), { source: origin });
            const tenth = Math.floor((10 * done) / total); // without a terminal: one line per 10 %
            if (!bar && tenth !== lastLine) {
              lastLine = tenth;
              toStderr(`pull ${origin}: ${done}/${total} bytes (${tenth * 10} %)\n`);
            }
          },
        });
      }).finally(() => bar?.stop());
      await store.setName(url.href, name);
      const bytes = header.dataStart + header.dataBytes;
      toStdout(`${name}: ${url.href}, ${header.config.arch}, ${(bytes / MB).toFixed(1)} MiB in ${cacheDirectory()}\n`);
    });
}
