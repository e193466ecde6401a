// Turns given to the host between tokens: only once a slice of work is used up, and then a real macrotask
// (a pending setImmediate callback runs), not a clamped timer.
import { describe, expect, it } from 'vitest';
import { SLICE_MS, TimeSlicer, yieldToHost } from '../../src/generate/yield.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('TimeSlicer', () => {
  it('lets tokens through without a turn while the slice lasts, then gives the host one', async () => {
    const slicer = new TimeSlicer();
    let turns = 0;
    const pending = () => setImmediate(() => turns++);
    pending();
    for (let i = 0; i < 5; i++) await slicer.tick(); // quick tokens: microtasks only
    expect(turns).toBe(0);
    busy(SLICE_MS + 2);
    await slicer.tick();
    expect(turns).toBe(1); // the host ran its queued macrotask
    pending();
    await slicer.tick(); // a fresh slice
    expect(turns).toBe(1);
  });

  it('gives a turn after at most 32 tokens even when the clock stands still', async () => {
    const slicer = new TimeSlicer();
    let turns = 0;
    setImmediate(() => turns++);
    for (let i = 0; i < 31; i++) await slicer.tick();
    expect(turns).toBe(0);
    await slicer.tick();
    expect(turns).toBe(1);
  });

  it('a turn is a macrotask: a pending immediate runs', async () => {
    let ran = false;
    setImmediate(() => (ran = true));
    await yieldToHost();
    expect(ran).toBe(true);
  });
});
