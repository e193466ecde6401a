// Input generators for fuzzing: byte-level mutations of real files (concentrated on the regions a
// parser reads: headers, pickles, zip directories) and structural mutations of JSON documents.
import fc from 'fast-check';

/** A real file to mutate, and the byte ranges where mutations are most interesting. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
  hot: [number, number][];
}

export interface ByteMutation {
  kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate' | 'copy';
  /** Where, as a fraction of the hot ranges (hot) or of the whole file. */
  at: number;
  hot: boolean;
  value: number;
  len: number;
}

// bytes that mean something to the parsers: JSON punctuation, digits, signs, sign bits, 0 and 0xff
const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x39, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x0a, 0x28, 0x2e, 0x71, 0x94];

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.record({
  kind: fc.constantFrom('flip', 'flip', 'set', 'set', 'set', 'insert', 'delete', 'truncate', 'copy'),
  // uniform: fast-check's own numbers lean towards 0, which would hit the first bytes most of the time
  at: fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })).map((n) => n / 2 ** 30),
  hot: fc.boolean(),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...INTERESTING)),
  len: fc.integer({ min: 1, max: 16 }),
});

function position(seed: Seed, size: number, m: ByteMutation): number {
  const hotTotal = seed.hot.reduce((s, [a, b]) => s + (b - a), 0);
  if (!m.hot || hotTotal === 0) return Math.floor(m.at * size);
  let k = Math.floor(m.at * hotTotal);
  for (const [a, b] of seed.hot) {
    if (k < b - a) return Math.min(a + k, size - 1);
    k -= b - a;
  }
  return size - 1;
}

/** Apply mutations in order to a copy of the seed. */
export function applyMutations(seed: Seed, mutations: ByteMutation[]): Uint8Array {
  let b = seed.bytes.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    const p = Math.max(0, position(seed, b.length, m));
    switch (m.kind) {
      case 'flip': b[p] ^= 1 << (m.value & 7); break;
      case 'set': b[p] = m.value; break;
      case 'insert': {
        const out = new Uint8Array(b.length + m.len);
        out.set(b.subarray(0, p));
        out.fill(m.value, p, p + m.len);
        out.set(b.subarray(p), p + m.len);
        b = out;
        break;
      }
      case 'delete': {
        const end = Math.min(b.length, p + m.len);
        const out = new Uint8Array(b.length - (end - p));
        out.set(b.subarray(0, p));
        out.set(b.subarray(end), p);
        b = out;
        break;
      }
      case 'truncate': b = b.slice(0, p); break;
      case 'copy': b.copyWithin(p, Math.floor(m.at * 7919 * m.len) % b.length, (Math.floor(m.at * 7919 * m.len) % b.length) + m.len); break;
    }
  }
  return b;
}

/** One to four byte mutations of one of the seeds. */
export function mutatedBytes(seeds: Seed[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(byteMutation, { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => applyMutations(seeds[i], ms));
}

/** A JSON edit: walk down `path` (indices into keys / elements), then replace or delete what is there. */
export interface JsonEdit {
  path: number[];
  op: 'replace' | 'delete' | 'wrap';
  value: unknown;
}

const jsonLeaf = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 31, 2 ** 32 - 1, 4294967296, '', 'F32', 'U8', 'I8', 'BPE', 'mamba2', null, true, [], {}),
);

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  path: fc.array(fc.noBias(fc.nat({ max: 1000 })), { minLength: 1, maxLength: 6 }),
  op: fc.constantFrom('replace', 'replace', 'delete', 'wrap'),
  value: jsonLeaf,
});

/** Apply an edit to a deep copy of `doc`. */
export function applyJsonEdit(doc: unknown, edit: JsonEdit): unknown {
  const root = structuredClone(doc);
  let parent: Record<string, unknown> | unknown[] | null = null;
  let key: string | number = '';
  let node: unknown = root;
  for (const i of edit.path) {
    if (typeof node !== 'object' || node === null) break;
    const keys = Array.isArray(node) ? node.map((_, j) => j) : Object.keys(node);
    if (keys.length === 0) break;
    parent = node as Record<string, unknown>;
    key = keys[i % keys.length];
    node = (node as Record<string | number, unknown>)[key];
  }
  if (parent === null) return edit.op === 'wrap' ? [root] : edit.value;
  const p = parent as Record<string | number, unknown>;
  if (edit.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete p[key];
  } else if (edit.op === 'wrap') p[key] = [node];
  else p[key] = edit.value;
  return root;
}

/** One to three edits of one of the documents. */
export function editedJson(docs: unknown[]): fc.Arbitrary<unknown> {
  return fc.tuple(fc.nat({ max: docs.length - 1 }), fc.array(jsonEdit, { minLength: 1, maxLength: 3 }))
    .map(([i, edits]) => edits.reduce((d, e) => applyJsonEdit(d, e), docs[i]));
}

/** A safetensors-style file: 8-byte length, the JSON (padded with spaces to `pad`), then `data`. */
export function encodeWithHeader(json: unknown, data: Uint8Array, pad = 64): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const headerLength = Math.ceil((8 + text.length) / pad) * pad - 8;
  const out = new Uint8Array(8 + headerLength + data.length).fill(0x20, 8, 8 + headerLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(text, 8);
  out.set(data, 8 + headerLength);
  return out;
}
