// A torch.save-style zip checkpoint built from scratch: `archive/data.pkl` (a state dict of U8 tensors,
// all views of one storage) and `archive/data/0` (that storage, stored or deflated). Small enough to
// read in one sitting; only what the reader looks at is filled in (CRCs included: the reader checks them).
import { deflateSync, inflateSync } from 'fflate';
import { crc32 } from '../../src/format/crc32.js';

/** The parts one after another, in one array. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface View {
  name: string;
  /** Element offset into the storage, and element count (a 1-D U8 tensor). */
  offset: number;
  numel: number;
}

const enc = (s: string) => [...new TextEncoder().encode(s)];
const u16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const short = (s: string) => [0x8c, enc(s).length, ...enc(s)]; // SHORT_BINUNICODE
const global = (module: string, name: string) => [0x63, ...enc(`${module}\n${name}\n`)]; // GLOBAL

/** The pickle of {name: _rebuild_tensor_v2(storage, offset, (numel,), (1,), False, OrderedDict())}. */
export function stateDictPickle(views: View[], storageNumel: number, storageType = 'ByteStorage'): Uint8Array {
  const ops = [0x80, 2, 0x7d, 0x28]; // PROTO 2, EMPTY_DICT, MARK
  for (const v of views) {
    ops.push(...short(v.name), ...global('torch._utils', '_rebuild_tensor_v2'), 0x28);
    ops.push(0x28, ...short('storage'), ...global('torch', storageType), ...short('0'), ...short('cpu'), 0x4a, ...u32(storageNumel), 0x74, 0x51); // persistent id
    ops.push(0x4a, ...u32(v.offset), 0x4a, ...u32(v.numel), 0x85, 0x4b, 1, 0x85, 0x89, ...global('collections', 'OrderedDict'), 0x29, 0x52);
    ops.push(0x74, 0x52); // TUPLE, REDUCE
  }
  ops.push(0x75, 0x2e); // SETITEMS, STOP
  return Uint8Array.from(ops);
}

interface Entry { name: string; data: Uint8Array; method: number; size: number; crc?: number }

/** The CRC-32 of an entry's uncompressed contents (of what it inflates to; 0 where it does not). */
function entryCrc(e: Entry): number {
  if (e.method === 0) return crc32(e.data);
  try {
    return crc32(inflateSync(e.data));
  } catch {
    return 0; // a corrupt stream, on purpose
  }
}

/** A zip archive of the entries (no ZIP64). */
export function zipOf(entries: Entry[]): Uint8Array {
  const central: number[] = [];
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const e of entries) {
    const name = enc(e.name);
    const crc = e.crc ?? entryCrc(e);
    const local = [...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(e.method), ...u16(0), ...u16(0), ...u32(crc), ...u32(e.data.length), ...u32(e.size), ...u16(name.length), ...u16(0), ...name];
    central.push(...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0), ...u16(e.method), ...u16(0), ...u16(0), ...u32(crc), ...u32(e.data.length), ...u32(e.size), ...u16(name.length), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(offset), ...name);
    chunks.push(Uint8Array.from(local), e.data);
    offset += local.length + e.data.length;
  }
  const eocd = [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(entries.length), ...u16(entries.length), ...u32(central.length), ...u32(offset), ...u16(0)];
  chunks.push(Uint8Array.from(central), Uint8Array.from(eocd));
  return concatBytes(chunks);
}

/** A checkpoint whose tensors are `views` of one U8 storage holding `storage`. */
export function torchZip(views: View[], storage: Uint8Array, opts: { deflate?: boolean } = {}): Uint8Array {
  const pkl = stateDictPickle(views, storage.length);
  const data = opts.deflate ? deflateSync(storage, { level: 1 }) : storage;
  return zipOf([
    { name: 'archive/data.pkl', data: pkl, method: 0, size: pkl.length },
    { name: 'archive/data/0', data, method: opts.deflate ? 8 : 0, size: storage.length },
  ]);
}
