// RSS over repeated load/dispose cycles with worker threads (the process-wide worker pool,
// src/wasm/pool.ts): `node --expose-gc --import tsx bench/pool-rss.ts [THREADS] [MODEL]` loads MODEL
// (default: the built-in model) 40 times on THREADS threads (default 2), runs 3 tokens, disposes it, and
// prints the RSS after cycles 1, 10, 20, 30 and 40 (each after a pause and a GC, so it is what stays
// allocated) and the most workers alive at once. Memory only: no timings.
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/model/model.js';
import { workerCount } from '../src/wasm/pool.js';

const threads = Number(process.argv[2] ?? 2);
const model = process.argv[3] ?? fileURLToPath(new URL('../models/default.bimamba', import.meta.url));
const wasm = fileURLToPath(new URL('../dist/bimamba.wasm', import.meta.url));
const wasmThreads = fileURLToPath(new URL('../dist/bimamba-threads.wasm', import.meta.url));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rss: string[] = [];
let most = 0;
for (let i = 1; i <= 40; i++) {
  const m = await loadModel(model, threads > 1 ? { wasm, wasmThreads, threads } : { wasm, threads });
  m.logits([1, 2, 3]);
  m.dispose();
  most = Math.max(most, workerCount());
  if (i === 1 || i % 10 === 0) {
    await pause(300); // the workers drop the model's instance
    gc();
    await pause(100);
    gc();
    rss.push((process.memoryUsage().rss / 2 ** 20).toFixed(1));
  }
}
console.log(`threads ${threads}: RSS after 1, 10, 20, 30, 40 cycles: ${rss.join(', ')} MiB; most workers at once: ${most}`);
