// The server's acceptance load, in full: normal clients measured on an idle server (half of the idle
// time before the attack, half after it), and for 60 s while 20 stalled readers and 20 store-flooding
// clients attack it from a process of their own (tests/server/load.ts). Prints the figures as JSON and
// a summary (with the machine's load average: on a busy machine the timings mean little); exits 1 when
// a normal request failed, the normal clients' p99 passes 2x the idle one, a store passes its caps, or
// the heap grows by 64 MiB.
//
//   npx tsx scripts/server-load.ts [--load-seconds 60] [--idle-seconds 15] [--stalled 20] [--flooders 20] [--think-ms 0]
//
// --think-ms: what each normal client waits between an answer and its next request (default 0: one after
// another, each normal client then busy enough on its own to be held to its fair share of the thread).
import { loadModel } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { defaultModelUrl } from '../src/default-model.js';
import { runLoad } from '../tests/server/load.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!(v >= 0)) {
    console.error('usage: tsx scripts/server-load.ts [--load-seconds N] [--idle-seconds N] [--stalled N] [--flooders N] [--think-ms N]');
    process.exit(2);
  }
  return v;
}

const model = await loadModel(fileURLToPath(defaultModelUrl()), { threads: 1, wasm: new URL('../dist/bimamba.wasm', import.meta.url) });
const r = await runLoad({ model, idleMs: arg('idle-seconds', 15) * 1000, loadMs: arg('load-seconds', 60) * 1000, stalled: arg('stalled', 20), flooders: arg('flooders', 20), thinkMs: arg('think-ms', 0), verbose: true });
model.dispose();
console.log(JSON.stringify(r, null, 2));
const ok = r.loaded.failed === 0 && r.loaded.p99 <= 2 * r.idle.p99 && r.storePeakBytes <= r.storeMaxBytes && r.storePeakSessions <= r.storeMaxSessions && r.heapMiB.end - r.heapMiB.start < 64;
const ms = (v: number) => `${Math.round(v)} ms`;
console.log(`idle p50 ${ms(r.idle.p50)} p99 ${ms(r.idle.p99)} (${r.idle.count} requests; p99 ${ms(r.idle.p99Before)} before the attack, ${ms(r.idle.p99After)} after); loaded p50 ${ms(r.loaded.p50)} p99 ${ms(r.loaded.p99)} (${r.loaded.count} requests, ${r.loaded.failed} failed); p99 ratio ${r.ratio}x (target 2x); normal clients wait ${arg('think-ms', 0)} ms between requests`);
console.log(`attackers ${r.attackRate} requests/s (${r.floodRequests} flood requests, ${r.flood503} refused; ${r.stalledOpened} stalled streams opened, ${r.stalledRefused} refused); store peak ${r.storePeakSessions}/${r.storeMaxSessions} sessions, ${r.storePeakBytes}/${r.storeMaxBytes} bytes; heap ${r.heapMiB.start} -> ${r.heapMiB.end} MiB (peak ${r.heapMiB.peak}); load average ${r.loadAverage.start} -> ${r.loadAverage.end}`);
console.log(ok ? 'ok' : 'FAILED');
process.exit(ok ? 0 : 1);
