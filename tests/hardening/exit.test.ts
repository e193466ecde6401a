// A script that loads a model on two threads, generates and never calls dispose() must still exit:
// the pool's idle workers do not keep the process alive.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convertFixture } from '../util/fixtures.js';
import { WASM, WASM_THREADS } from '../util/wasm.js';
import { runBounded } from './bounded.js';


describe('process exit', () => {
  it('a script that never disposes a two-thread model exits by itself within seconds', async () => {
    const model = await convertFixture('mamba1-tiny-hf');
    const probe = fileURLToPath(new URL('./exit-probe.ts', import.meta.url));
    const r = runBounded(probe, [model, WASM, WASM_THREADS], { heapMb: 256, timeoutMs: 10_000 });
    expect(r.timedOut, 'the process did not exit').toBe(false);
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toEqual({ threads: 2, tokens: 8 });
  });
});
