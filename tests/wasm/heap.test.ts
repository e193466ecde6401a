// The host-side allocator's free list under random allocations and releases (fast-check): blocks never
// overlap and stay 64-byte aligned, the free list stays sorted and coalesced (no two free blocks touch,
// none touches the top), and releasing everything gives every byte back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Heap } from '../../src/wasm/heap.js';

interface HeapInside { free: { start: number; size: number }[]; used: Map<number, number>; top: number }

function check(heap: Heap, base: number): void {
  const { free, used, top } = heap as unknown as HeapInside;
  for (let i = 0; i < free.length; i++) {
    expect(free[i].size).toBeGreaterThan(0);
    if (i > 0) expect(free[i - 1].start + free[i - 1].size).toBeLessThan(free[i].start); // sorted, and not adjacent
  }
  if (free.length) expect(free[free.length - 1].start + free[free.length - 1].size).toBeLessThan(top);
  // used and free blocks tile [base, top) exactly, with no overlap
  const blocks = [...[...used].map(([start, size]) => ({ start, size })), ...free].sort((a, b) => a.start - b.start);
  let at = base;
  for (const b of blocks) {
    expect(b.start % 64).toBe(0);
    expect(b.start).toBe(at);
    at += b.size;
  }
  expect(at).toBe(top);
}

describe('Heap', () => {
  it('keeps its free list sorted, coalesced and never overlapping under random alloc/release', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(5000), fc.nat()), { maxLength: 200 }), (ops) => {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 4096 });
        const base = 1000;
        const heap = new Heap(memory, base);
        const live: number[] = [];
        for (const [alloc, bytes, pick] of ops) {
          if (alloc || live.length === 0) live.push(heap.alloc(bytes));
          else heap.release(live.splice(pick % live.length, 1)[0]);
          check(heap, 1024);
        }
        for (const p of live) heap.release(p);
        check(heap, 1024);
        expect(heap.allocatedBytes).toBe(0);
        expect((heap as unknown as HeapInside).top).toBe(1024);
        expect((heap as unknown as HeapInside).free).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to release an address it did not hand out', () => {
    const heap = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 16 }), 0);
    const p = heap.alloc(100);
    expect(() => heap.release(p + 64)).toThrow(/not allocated/);
    heap.release(p);
    expect(() => heap.release(p)).toThrow(/not allocated/);
  });
});
