// The server's acceptance load, in full: normal clients measured on an idle server, then for 60 s while
// 20 stalled readers and 20 store-flooding clients attack it (tests/server/load.ts). Prints the figures
// as JSON; exits 1 when the normal clients' p99 passes 2x the idle one, a store passes its caps, or the
// heap grows by 64 MiB.
//
//   npx tsx scripts/server-load.ts [--load-seconds 60] [--idle-seconds 15] [--stalled 20] [--flooders 20]
import { loadModel } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { defaultModelUrl } from '../src/default-model.js';
import { runLoad } from '../tests/server/load.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!(v >= 0)) {
    console.error('usage: tsx scripts/server-load.ts [--load-seconds N] [--idle-seconds N] [--stalled N] [--flooders N]');
    process.exit(2);
  }
  return v;
}

const model = await loadModel(fileURLToPath(defaultModelUrl()), { threads: 1, wasm: new URL('../dist/bimamba.wasm', import.meta.url) });
const r = await runLoad({ model, idleMs: arg('idle-seconds', 15) * 1000, loadMs: arg('load-seconds', 60) * 1000, stalled: arg('stalled', 20), flooders: arg('flooders', 20), verbose: true });
model.dispose();
console.log(JSON.stringify(r, null, 2));
const ok = r.loaded.failed === 0 && r.loaded.p99 <= 2 * r.idle.p99 && r.storePeakBytes <= r.storeMaxBytes && r.storePeakSessions <= r.storeMaxSessions && r.heapMiB.end - r.heapMiB.start < 64;
console.log(ok ? 'ok' : 'FAILED');
process.exit(ok ? 0 : 1);
