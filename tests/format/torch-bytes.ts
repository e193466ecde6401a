// Test helpers: pickle bytes built opcode by opcode, and torch.save-style zip archives around them.
import { zipSync } from 'fflate';
import { Rng } from '../util/rng.js';

/** Emits pickle opcodes (protocol 2, the subset torch.save uses, plus whatever a test needs). */
export class PickleWriter {
  private readonly out: number[] = [];

  op(code: number, ...payload: number[]): this {
    this.out.push(code, ...payload);
    return this;
  }
  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }
  proto(): this { return this.op(0x80, 2); }
  mark(): this { return this.op(0x28); }
  str(s: string): this {
    const b = [...new TextEncoder().encode(s)];
    return this.op(0x58, ...this.u32(b.length), ...b); // BINUNICODE
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n); // BININT1
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8); // BININT2
    return this.op(0x4a, ...this.u32(n)); // BININT
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)); // GLOBAL
  }
  tuple(): this { return this.op(0x74); }
  emptyTuple(): this { return this.op(0x29); }
  emptyDict(): this { return this.op(0x7d); }
  reduce(): this { return this.op(0x52); }
  build(): this { return this.op(0x62); }
  setitems(): this { return this.op(0x75); }
  persid(): this { return this.op(0x51); }
  newfalse(): this { return this.op(0x89); }
  put(i: number): this { return this.op(0x71, i); }
  get(i: number): this { return this.op(0x68, i); }
  stop(): this { return this.op(0x2e); }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

export interface PickledTensor {
  name: string;
  storageType: string; // e.g. FloatStorage
  key: string;
  numel: number; // of the storage
  offset: number; // in elements
  shape: number[];
  stride: number[];
}

/** The pickle torch.save writes for an OrderedDict of tensors (same storage key = same storage object). */
export function stateDictPickle(tensors: PickledTensor[]): Uint8Array {
  const w = new PickleWriter().proto();
  w.global('collections', 'OrderedDict').emptyTuple().reduce(); // the state dict
  w.mark();
  for (const t of tensors) {
    w.str(t.name);
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', t.storageType).str(t.key).str('cpu').int(t.numel).tuple().persid();
    w.int(t.offset);
    w.mark(); for (const d of t.shape) w.int(d); w.tuple();
    w.mark(); for (const s of t.stride) w.int(s); w.tuple();
    w.newfalse().global('collections', 'OrderedDict').emptyTuple().reduce();
    w.tuple().reduce();
  }
  w.setitems();
  // torch's state dicts carry a `_metadata` attribute, restored with BUILD
  w.emptyDict().mark().str('_metadata').emptyDict().setitems().build();
  return w.stop().bytes();
}

/** A torch.save zip archive: `<prefix>/data.pkl`, `<prefix>/byteorder`, `<prefix>/data/<key>`. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { prefix?: string; level?: 0 | 6 } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  const files: Record<string, Uint8Array> = {
    [`${prefix}/data.pkl`]: pickle,
    [`${prefix}/byteorder`]: new TextEncoder().encode('little'),
  };
  for (const [k, v] of Object.entries(storages)) files[`${prefix}/data/${k}`] = v;
  return zipSync(files, { level: opts.level ?? 0 });
}

export function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r());
}

export const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Seeded pseudo-random numbers in [-1, 1). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform(-1, 1);
}
