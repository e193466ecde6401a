// The host-side allocator over one model's WASM memory (see assembly/README.md, "Memory").
// First-fit over a sorted free list with coalescing; every block is 64-byte aligned. The memory grows
// on demand by whole 64 KiB pages, never past its cap (memoryCap: default WASM's 4 GiB) rounded down to a page,
// so the memory's size never passes the cap.
import { BimambaError } from '../errors.js';

/** A WASM page. */
export const PAGE = 65536;
const ALIGN = 64;
/** WASM32 addresses 4 GiB at most: 65536 pages. */
export const WASM_MAX_BYTES = 65536 * PAGE;

/**
 * The memory cap for a `maxMemoryBytes` option: the option when given (a number of bytes > 0), never
 * more than WASM's 4 GiB. The heap grows to the last whole page under it.
 */
export function memoryCap(maxMemoryBytes: number | undefined): number {
  if (maxMemoryBytes === undefined) return WASM_MAX_BYTES;
  if (typeof maxMemoryBytes !== 'number' || !(maxMemoryBytes > 0)) {
    throw new BimambaError('BAD_ARGUMENT', `invalid maxMemoryBytes: ${String(maxMemoryBytes)} (a number of bytes > 0)`);
  }
  return Math.min(maxMemoryBytes, WASM_MAX_BYTES);
}

interface Block { start: number; size: number }

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

export class Heap {
  readonly memory: WebAssembly.Memory;
  private readonly maxBytes: number;
  private readonly free: Block[] = []; // sorted by start, never adjacent
  private readonly used = new Map<number, number>(); // start -> size
  private readonly names = new Map<number, string>(); // start -> what the block holds
  private top: number; // everything at or above `top` is unallocated

  /** `cap`: memoryCap()'s bytes. */
  constructor(memory: WebAssembly.Memory, base: number, cap = WASM_MAX_BYTES) {
    this.memory = memory;
    this.top = roundUp(base, ALIGN);
    this.maxBytes = Math.floor(cap / PAGE) * PAGE;
  }

  /** Bytes of WASM memory (whole pages) the heap spans once `bytes` more are allocated at its top. */
  memoryBytesWith(bytes: number): number {
    return Math.ceil((this.top + roundUp(bytes, ALIGN)) / PAGE) * PAGE;
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let s = 0;
    for (const size of this.used.values()) s += size;
    return s;
  }

  /** Bytes allocated, by what the blocks hold (the `what` of alloc()). */
  allocatedByWhat(): Map<string, number> {
    const by = new Map<string, number>();
    for (const [start, size] of this.used) {
      const what = this.names.get(start) ?? 'buffer';
      by.set(what, (by.get(what) ?? 0) + size);
    }
    return by;
  }

  /** Allocate `bytes` (64-byte aligned). `what` names the buffer in an out-of-memory error. */
  alloc(bytes: number, what = 'buffer'): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new BimambaError('BAD_ARGUMENT', `invalid allocation size ${bytes} for ${what}`);
    const size = Math.max(ALIGN, roundUp(bytes, ALIGN));
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.size < size) continue;
      const start = b.start;
      if (b.size === size) this.free.splice(i, 1);
      else { b.start += size; b.size -= size; }
      this.used.set(start, size);
      this.names.set(start, what);
      return start;
    }
    const start = this.top;
    this.ensure(start + size, what);
    this.top = start + size;
    this.used.set(start, size);
    this.names.set(start, what);
    return start;
  }

  /** Give a block back. */
  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new BimambaError('BAD_ARGUMENT', `release of an address that is not allocated: ${ptr}`);
    this.used.delete(ptr);
    this.names.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // fold a free block that now ends at the top
      const last = this.free[this.free.length - 1];
      if (last && last.start + last.size === this.top) { this.top = last.start; this.free.pop(); }
      return;
    }
    let i = 0;
    while (i < this.free.length && this.free[i].start < ptr) i++;
    this.free.splice(i, 0, { start: ptr, size });
    const next = this.free[i + 1];
    if (next && ptr + size === next.start) { this.free[i].size += next.size; this.free.splice(i + 1, 1); }
    const prev = this.free[i - 1];
    if (prev && prev.start + prev.size === ptr) { prev.size += this.free[i].size; this.free.splice(i, 1); }
  }

  /** Check, before allocating anything, that `bytes` more would fit under the cap. */
  wouldFit(bytes: number): boolean {
    return this.top + roundUp(bytes, ALIGN) <= this.maxBytes;
  }

  private ensure(end: number, what: string): void {
    if (end > this.maxBytes) {
      throw new BimambaError('OUT_OF_MEMORY', `allocating ${what} needs ${end} bytes of WASM memory, over the limit of ${this.maxBytes}`);
    }
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch (e) {
      throw new BimambaError('OUT_OF_MEMORY', `the host refused to grow WASM memory to ${end} bytes for ${what}`, { cause: e });
    }
  }

  f32(ptr: number, n: number): Float32Array { return new Float32Array(this.memory.buffer, ptr, n); }
  u8(ptr: number, n: number): Uint8Array { return new Uint8Array(this.memory.buffer, ptr, n); }
  i32(ptr: number, n: number): Int32Array { return new Int32Array(this.memory.buffer, ptr, n); }
}
