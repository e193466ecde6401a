// Hostile inputs whose danger is cost: each once took minutes or gigabytes. cost.test.ts runs the cases
// here in a child process with a small heap and a timeout (bounded.ts), so a regression fails the
// test instead of killing the runner. Prints JSON lines: per case the error code (or 'ok') and the time.
//
//   node --max-old-space-size=128 --import tsx cost-cases.ts CASE...
import { BimambaError } from '../../src/errors.js';
import { unpickleStateDict } from '../../src/format/pickle.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors.js';
import { readTorchCheckpoint } from '../../src/format/torch.js';
import { bytesSource } from '../../src/format/zip.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { byteTokenizerJson } from '../util/fixtures.js';
import { concatBytes, torchZip } from './torch-zip.js';

/** The byte-level test tokenizer with `edit` applied. */
function tokenizer(edit: (t: Record<string, any>) => void): Record<string, unknown> {
  const t = JSON.parse(byteTokenizerJson());
  edit(t);
  return t;
}

const withSplit = (regex: string) => tokenizer((t) => {
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] };
});

/** Load the tokenizer, then encode a prompt with it (the load alone may already be the attack). */
function loadAndEncode(doc: object, prompt: string): void {
  loadTokenizer(doc).encode(prompt);
}

/** A safetensors file that is only its 8-byte length and the header `json`. */
function header(json: string): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** A protocol-2 pickle: PROTO 2, the ops, STOP. */
const pickle = (...ops: (number[] | Uint8Array)[]) => {
  const parts = [Uint8Array.from([0x80, 2]), ...ops.map((o) => (o instanceof Uint8Array ? o : Uint8Array.from(o))), Uint8Array.from([0x2e])];
  return concatBytes(parts);
};

const CASES: Record<string, () => unknown> = {
  // twelve empty-pattern Replace normalizers: each triples the text (the load itself encodes a probe)
  'tokenizer: empty Replace patterns': () => loadAndEncode(tokenizer((t) => {
    t.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 12 }, () => ({ type: 'Replace', pattern: { String: '' }, content: 'ab' })) };
  }), 'hello'),
  'tokenizer: empty-matching Replace regexes': () => loadAndEncode(tokenizer((t) => {
    t.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 12 }, () => ({ type: 'Replace', pattern: { Regex: 'x?' }, content: 'ab' })) };
  }), 'hello'),
  'tokenizer: FixedLength of 0': () => loadAndEncode(tokenizer((t) => {
    t.pre_tokenizer = { type: 'FixedLength', length: 0 };
  }), 'hello'),
  'tokenizer: possessive-looking a{1,2}+': () => loadAndEncode(withSplit('a{1,2}+$'), 'a'.repeat(40) + 'b'),
  'tokenizer: (a+){,99}': () => loadAndEncode(withSplit('(a+){,99}$'), 'a'.repeat(30) + 'b'),
  'tokenizer: a bound of 30 digits': () => loadAndEncode(withSplit(`(a+){1,${'9'.repeat(30)}}$`), 'a'.repeat(30) + 'b'),
  'tokenizer: a* twelve times': () => loadAndEncode(withSplit(`${'a*'.repeat(12)}$`), 'a'.repeat(40) + 'b'),
  'tokenizer: (a|a)*': () => loadAndEncode(withSplit('(a|a)*$'), 'a'.repeat(40) + 'b'),
  'tokenizer: WordPiece words of 1e9 characters': () => loadAndEncode({
    normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, decoder: null,
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 1e9, vocab: { '[UNK]': 0, a: 1, '##a': 2 } },
  }, 'a'.repeat(2000)),
  'tokenizer: a Unigram piece of 40,000 characters': () => loadAndEncode({
    normalizer: null, pre_tokenizer: null, decoder: null,
    model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['a', -1], ['a'.repeat(40_000), -2]] },
  }, 'a'.repeat(39_999) + 'b'),

  // LONG1/LONG4 with a long payload: the integer was built byte by byte
  'pickle: LONG4 of 1 MiB': () => unpickleStateDict(pickle([0x8b, ...u32le(1 << 20)], new Uint8Array(1 << 20).fill(0x7f)), 'data.pkl'),
  // a 30 MB BINSTRING: was built one character at a time (a gigabyte of string pieces)
  'pickle: BINSTRING of 30 MB': () => unpickleStateDict(pickle([0x54, ...u32le(30_000_000)], new Uint8Array(30_000_000).fill(0x41)), 'data.pkl'),
  // a list of 20 M items: ] then (N a) twenty million times
  'pickle: a list of 20 M items': () => {
    const items = new Uint16Array(20_000_000).fill(0x614e); // N a, little-endian
    return unpickleStateDict(pickle([0x5d], new Uint8Array(items.buffer)), 'data.pkl');
  },

  // a header of nested arrays: JSON.parse took tens of seconds and gigabytes
  'header: 16 MB of nested arrays': () => parseSafetensorsHeader(header(`{"a":${'['.repeat(8_000_000)}${']'.repeat(8_000_000)}}`)),
  // a header of many empty arrays side by side
  'header: 5 M empty arrays': () => parseSafetensorsHeader(header(`{"a":[${'[],'.repeat(5_000_000)}[]]}`)),

  // 32 tensors that are views of one deflated 16 MiB storage: it was inflated again for each
  'zip: tensors sharing one deflated storage': async () => {
    const archive = torchZip(Array.from({ length: 32 }, (_, i) => ({ name: `w${i}`, offset: 16 * i, numel: 16 })), new Uint8Array(16 << 20), { deflate: true });
    const read = await readTorchCheckpoint(bytesSource(archive), 'pytorch_model.bin');
    for (const t of read.values()) await t.read();
  },
};

// Each case prints a line when it starts and one with its result, so that when a case blows up and the
// child is killed, the output says which one it was.
for (const name of process.argv.slice(2)) {
  const run = CASES[name];
  if (!run) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`);
  console.log(JSON.stringify({ case: name, started: true }));
  const t0 = performance.now();
  let code = 'ok';
  try {
    await run();
  } catch (e) {
    if (!(e instanceof BimambaError)) throw e;
    code = e.code;
  }
  console.log(JSON.stringify({ case: name, code, ms: Math.round(performance.now() - t0) }));
}
