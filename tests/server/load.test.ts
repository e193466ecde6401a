// The acceptance load test, shortened for the suite (10 s idle, 20 s under attack); the full 60 s run is
// `npx tsx scripts/server-load.ts`. Normal clients' p99 stays within 2x of the idle server's measured
// here, no store passes its caps, and memory stays flat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { WASM_URL } from '../util/wasm.js';
import { runLoad } from './load.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

describe('load: 20 stalled readers + 20 store flooders + normal clients', () => {
  it('normal clients keep their p99 within 2x of idle; stores within caps; memory flat', { timeout: 120_000 }, async () => {
    const r = await runLoad({ model, idleMs: 10_000, loadMs: 20_000 });
    console.log(JSON.stringify(r));
    expect(r.loaded.failed).toBe(0);
    expect(r.loaded.count).toBeGreaterThan(20);
    expect(r.stalledOpened).toBeGreaterThanOrEqual(20);
    expect(r.floodRequests).toBeGreaterThan(100);
    expect(r.loaded.p99).toBeLessThanOrEqual(2 * r.idle.p99);
    expect(r.storePeakBytes).toBeLessThanOrEqual(r.storeMaxBytes);
    expect(r.storePeakSessions).toBeLessThanOrEqual(r.storeMaxSessions);
    expect(r.heapMiB.end - r.heapMiB.start).toBeLessThan(64);
  });
});
