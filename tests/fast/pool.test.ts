// One process-wide worker pool (src/wasm/pool.ts): every model a process loads with threads shares the
// same workers, a model's dispose() releases its use, and the workers end when no model uses them. So
// loading and disposing models many times neither piles up workers nor memory.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { LINGER_MS, workerCount } from '../../src/wasm/pool.js';
import { ensureSyntheticModel, type SyntheticModel } from '../util/synthetic-model.js';
import { WASM, WASM_THREADS } from '../util/wasm.js';

const SMALL: SyntheticModel = { name: 'bimamba-small', d_model: 256, n_layer: 2, binarized: true, head: 'int8', params: 'small' };
let path: string;
beforeAll(async () => {
  path = join(tmpdir(), `bimamba-pool-${process.pid}.bimamba`);
  await ensureSyntheticModel(SMALL, path);
});
afterAll(() => rmSync(path, { force: true }));

const PROMPT = Array.from({ length: 40 }, (_, i) => 3 + ((i * 7919) % 30000));
const threaded = (threads: number) => loadModel(path, { wasm: WASM, wasmThreads: WASM_THREADS, threads });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('the process-wide worker pool', () => {
  it('is shared by models loaded at once, each on its own thread count, with the bits of one thread', async () => {
    const one = await loadModel(path, { wasm: WASM, threads: 1 });
    const expected = one.logits(PROMPT);
    const a = await threaded(2);
    const b = await threaded(2);
    expect(workerCount()).toBe(1); // one worker serves both
    const c = await threaded(3);
    expect(workerCount()).toBe(2); // grown for the model that wants more
    // interleaved use: every model's jobs name its own memory
    for (const m of [a, c, b, a, c]) expect(m.logits(PROMPT)).toEqual(expected);
    a.dispose();
    expect(b.logits(PROMPT)).toEqual(expected); // the others keep working
    c.dispose();
    expect(b.logits(PROMPT)).toEqual(expected);
    b.dispose();
    one.dispose();
    await pause(LINGER_MS + 500);
    expect(workerCount()).toBe(0);
  });

  it('load/dispose 40 times with threads: 2 keeps one worker and little memory growth', async () => {
    const rss: number[] = [];
    for (let i = 0; i < 40; i++) {
      const m = await threaded(2);
      expect(m.threads).toBe(2);
      m.logits(PROMPT.slice(0, 3));
      m.dispose();
      expect(workerCount()).toBeLessThanOrEqual(1);
      if (i % 10 === 9) {
        // what stays allocated: give the workers time to drop the instances, then collect here
        await pause(300);
        gc();
        rss.push(process.memoryUsage().rss);
      }
    }
    const growth = (rss[rss.length - 1] - rss[0]) / 2 ** 20;
    console.log(`RSS after 10, 20, 30, 40 load/dispose cycles (threads: 2): ${rss.map((r) => (r / 2 ** 20).toFixed(1)).join(', ')} MiB; growth from 10 to 40: ${growth.toFixed(1)} MiB`);
    expect(growth).toBeLessThan(32); // measured +0.5 MiB; a model's memory kept by a worker (9 MiB a cycle) breaks it
    await pause(LINGER_MS + 500);
    expect(workerCount()).toBe(0);
  });
});
