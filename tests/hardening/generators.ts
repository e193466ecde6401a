// Inputs generated from scratch for the classes of input that once cost minutes or gigabytes: the
// structure of tokenizer.json (pipelines of steps, regular expressions, model parameters), pickle
// integers and strings, zip checkpoints whose tensors share storages, and JSON headers that nest
// or repeat. Each leans towards the shapes that hurt: empty patterns, long payloads, deep nesting.
import fc from 'fast-check';
import { deflateSync } from 'fflate';
import { concatBytes, stateDictPickle, zipOf, type View } from './torch-zip.js';

// ---- tokenizer.json ----

/** Regular expressions: the common tokenizers' pieces, and the catastrophic shapes in many spellings. */
const regex = fc.oneof(
  fc.constantFrom(
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    '\\p{N}{1,3}', '\\s+', '[\\r\\n]+', '(?i:a|b)', '', 'x?', '(?=a)', '\\b',
    '(a+)+$', '(a|a)*$', 'a{1,2}+$', '(a+){,99}$', `(a+){1,${'9'.repeat(30)}}$`, `${'a*'.repeat(12)}$`, '(a)\\1', '[', '(?<n>a)\\k<n>',
  ),
  fc.array(fc.constantFrom('a', 'a*', 'a+', '(', ')', '|', '?', '{2,}', '{,3}', '[ab]', '\\s', '\\p{L}', '.', '$', '^'), { maxLength: 10 }).map((parts) => parts.join('')),
);

const pattern = fc.oneof(fc.record({ String: fc.oneof(fc.constant(''), fc.string({ maxLength: 3 })) }), fc.record({ Regex: regex }));
const inserted = fc.oneof(fc.string({ maxLength: 4 }), fc.constant('x'.repeat(65)), fc.constant('▁'));

const normalizerStep: fc.Arbitrary<object> = fc.oneof(
  fc.record({ type: fc.constant('Replace'), pattern, content: inserted }),
  fc.record({ type: fc.constant('Prepend'), prepend: inserted }),
  fc.constantFrom({ type: 'NFC' }, { type: 'NFKC' }, { type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }, { type: 'Strip', left: true, right: true }),
  fc.record({ type: fc.constant('BertNormalizer'), clean_text: fc.boolean(), handle_chinese_chars: fc.boolean(), strip_accents: fc.option(fc.boolean()), lowercase: fc.boolean() }),
);

const preTokenizerStep: fc.Arbitrary<object> = fc.oneof(
  fc.record({ type: fc.constant('Split'), pattern, behavior: fc.constantFrom('Isolated', 'Removed', 'MergedWithPrevious', 'Contiguous'), invert: fc.boolean() }),
  fc.record({ type: fc.constant('Replace'), pattern, content: inserted }),
  fc.record({ type: fc.constant('Metaspace'), replacement: inserted, prepend_scheme: fc.constantFrom('always', 'first', 'never'), split: fc.boolean() }),
  fc.record({ type: fc.constant('ByteLevel'), add_prefix_space: fc.boolean(), trim_offsets: fc.boolean(), use_regex: fc.boolean() }),
  fc.record({ type: fc.constant('FixedLength'), length: fc.oneof(fc.constant(0), fc.constant(-1), fc.nat({ max: 5 })) }),
  fc.constantFrom({ type: 'Whitespace' }, { type: 'WhitespaceSplit' }, { type: 'BertPreTokenizer' }, { type: 'Digits', individual_digits: true }, { type: 'Punctuation', behavior: 'Isolated' }),
);

const decoderStep: fc.Arbitrary<object> = fc.oneof(
  fc.record({ type: fc.constant('Replace'), pattern, content: inserted }),
  fc.constantFrom({ type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'ByteLevel' }, { type: 'WordPiece', prefix: '##', cleanup: true }),
  fc.record({ type: fc.constant('Strip'), content: inserted, start: fc.nat({ max: 3 }), stop: fc.nat({ max: 3 }) }),
  fc.record({ type: fc.constant('Metaspace'), replacement: inserted, prepend_scheme: fc.constant('always'), split: fc.boolean() }),
);

/** A step, or a Sequence of steps (up to 20, past the limit of 16), sometimes nested. */
function pipeline(step: fc.Arbitrary<object>, key: string): fc.Arbitrary<object | null> {
  const sequence = (inner: fc.Arbitrary<object>) => fc.array(inner, { maxLength: 20 }).map((steps) => ({ type: 'Sequence', [key]: steps }));
  return fc.oneof(fc.constant(null), step, sequence(step), sequence(fc.oneof(step, sequence(step))));
}

const piece = fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom('a', 'aa', '##a', '▁', '<unk>', '[UNK]', 'a'.repeat(101)));

const model = fc.oneof(
  fc.record({
    type: fc.constant('BPE'),
    vocab: fc.dictionary(piece, fc.nat({ max: 300 }), { maxKeys: 30 }),
    merges: fc.array(fc.tuple(piece, piece).map(([a, b]) => `${a} ${b}`), { maxLength: 10 }),
    unk_token: fc.option(piece), byte_fallback: fc.boolean(), fuse_unk: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('WordPiece'),
    vocab: fc.dictionary(piece, fc.nat({ max: 300 }), { maxKeys: 30 }),
    unk_token: fc.constant('[UNK]'), continuing_subword_prefix: fc.constant('##'),
    max_input_chars_per_word: fc.oneof(fc.nat({ max: 300 }), fc.constant(1e9), fc.constant(-1)),
  }),
  fc.record({
    type: fc.constant('Unigram'),
    unk_id: fc.nat({ max: 3 }),
    vocab: fc.array(fc.tuple(piece, fc.double({ min: -20, max: 0, noNaN: true })), { minLength: 1, maxLength: 30 }),
  }),
);

/** tokenizer.json documents built from scratch. */
export const tokenizerDoc: fc.Arbitrary<string> = fc.record({
  normalizer: pipeline(normalizerStep, 'normalizers'),
  pre_tokenizer: pipeline(preTokenizerStep, 'pretokenizers'),
  decoder: pipeline(decoderStep, 'decoders'),
  model,
  added_tokens: fc.array(fc.record({ id: fc.nat({ max: 300 }), content: piece, special: fc.boolean(), normalized: fc.boolean() }), { maxLength: 3 }),
}).map((d) => JSON.stringify(d));

/** Prompts for them: ordinary text, and the long runs that make backtracking and lattices hurt. */
export const tokenizerPrompt = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('a'.repeat(40) + 'b', 'aaaa aaaa', ' '.repeat(50) + 'x', '\uFDFA'.repeat(20), 'Hello wörld 123 😀'),
);

// ---- pickle integers and strings ----

const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** A payload length leaning to the edges: 0, small, just past 8, long (up to 256 KiB). */
const payloadLength = fc.oneof(fc.nat({ max: 12 }), fc.constantFrom(255, 256, 4096, 65536, 262144));

/** One integer or string opcode, its length field honest or not. */
const intOrStringOp: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.constantFrom(0x8a, 0x8b, 0x54, 0x55, 0x58, 0x8c, 0x42, 0x43, 0x4a, 0x4b, 0x4d),
  payloadLength,
  fc.boolean(), // lie about the length (claim four times more than is there)
  fc.nat({ max: 255 }),
).map(([op, n, lie, fill]) => {
  const short = op === 0x8a || op === 0x55 || op === 0x8c || op === 0x43;
  const len = short ? Math.min(n, 255) : n;
  const claimed = lie ? len * 4 + 1 : len;
  if (op === 0x4a) return Uint8Array.from([op, ...u32le(fill * 0x01010101)]);
  if (op === 0x4b) return Uint8Array.from([op, fill]);
  if (op === 0x4d) return Uint8Array.from([op, fill, fill]);
  const head = short ? [op, claimed & 0xff] : [op, ...u32le(claimed)];
  const out = new Uint8Array(head.length + len).fill(fill);
  out.set(head);
  return out;
});

/** Containers filled with many items: a list appended to N times, a tuple or dict of N items. */
const manyItems: fc.Arbitrary<Uint8Array> = fc.tuple(fc.constantFrom(0x61, 0x65, 0x74, 0x64), fc.constantFrom(10, 1000, 100_000, 500_000)).map(([op, n]) => {
  if (op === 0x61) {
    const out = new Uint8Array(1 + 2 * n);
    out[0] = 0x5d; // EMPTY_LIST, then (NONE APPEND) n times
    out.fill(0x4e, 1);
    for (let i = 2; i < out.length; i += 2) out[i] = 0x61;
    return out;
  }
  const head = op === 0x65 ? [0x5d, 0x28] : [0x28]; // (EMPTY_LIST) MARK, NONE n times, the op
  const out = new Uint8Array(head.length + n + 1).fill(0x4e);
  out.set(head);
  out[out.length - 1] = op;
  return out;
});

/** Pickles of integer, string and container opcodes, in a state dict or not. */
export const picklePayload: fc.Arbitrary<Uint8Array> = fc.array(fc.oneof({ weight: 4, arbitrary: intOrStringOp }, { weight: 1, arbitrary: manyItems }), { minLength: 1, maxLength: 6 }).map((ops) => {
  const parts = [Uint8Array.from([0x80, 2]), ...ops, Uint8Array.from([0x2e])];
  return concatBytes(parts);
});

// ---- zip checkpoints whose tensors share storages ----

const STORAGE_TYPES = ['ByteStorage', 'FloatStorage', 'HalfStorage', 'LongStorage', '__proto__', 'constructor'];

/** A torch zip: views (in range or not) of one storage, stored or deflated, its size honest or not. */
export const sharedStorageZip: fc.Arbitrary<Uint8Array> = fc.record({
  storageBytes: fc.constantFrom(0, 16, 4096, 1 << 20, 8 << 20),
  views: fc.array(fc.record({ offset: fc.oneof(fc.nat({ max: 64 }), fc.constant(2 ** 31)), numel: fc.oneof(fc.nat({ max: 64 }), fc.constant(1 << 20)) }), { minLength: 1, maxLength: 64 }),
  deflate: fc.boolean(),
  claimedNumel: fc.option(fc.constantFrom(0, 1, 2 ** 31)),
  storageType: fc.constantFrom(...STORAGE_TYPES),
  sizeLie: fc.option(fc.constantFrom(0, 1, 2 ** 30, 0xffffffff)),
}).map(({ storageBytes, views, deflate, claimedNumel, storageType, sizeLie }) => {
  const named: View[] = views.map((v, i) => ({ name: `w${i}`, ...v }));
  const pkl = stateDictPickle(named, claimedNumel ?? storageBytes, storageType);
  const storage = new Uint8Array(storageBytes);
  const data = deflate ? deflateSync(storage, { level: 1 }) : storage;
  return zipOf([
    { name: 'archive/data.pkl', data: pkl, method: 0, size: pkl.length },
    { name: 'archive/data/0', data, method: deflate ? 8 : 0, size: sizeLie ?? storageBytes },
  ]);
});

// ---- JSON headers that nest or repeat ----

/** A JSON text nested `depth` deep at one place, or `count` containers side by side. */
const hostileJson = fc.oneof(
  fc.constantFrom(7, 9, 65, 1000, 100_000).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.constantFrom(7, 65, 1000).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constantFrom(10, 1000, 400_000).map((count) => `[${'[],'.repeat(count)}[]]`),
  fc.constantFrom(10, 1_000_000, 2_500_000).map((count) => `[${'0,'.repeat(count)}0]`),
  fc.constant('['.repeat(1000)), // unclosed
);

/** Where the hostile JSON goes: a tensor's shape or offsets, a metadata value (as text), the config, the top level. */
export const nestedHeader: fc.Arbitrary<Uint8Array> = fc.tuple(hostileJson, fc.constantFrom('shape', 'data_offsets', 'metadata', 'config', 'checksums', 'tokenizer', 'top')).map(([json, where]) => {
  const tensor: Record<string, unknown> = { dtype: 'U8', shape: [4], data_offsets: [0, 4] };
  const meta: Record<string, string> = { format: 'bimamba', format_version: '1' };
  let text: string;
  if (where === 'shape' || where === 'data_offsets') {
    text = JSON.stringify({ __metadata__: meta, t: { ...tensor, [where]: '@' } }).replace('"@"', json);
  } else if (where === 'top') {
    text = json;
  } else {
    text = JSON.stringify({ __metadata__: { ...meta, [where === 'metadata' ? 'x' : where]: json }, t: tensor });
  }
  const bytes = new TextEncoder().encode(text);
  const file = new Uint8Array(8 + bytes.length + 4);
  new DataView(file.buffer).setBigUint64(0, BigInt(bytes.length), true);
  file.set(bytes, 8);
  return file;
});

// ---- regular expressions with bounded repetitions ----

/** A repetition count: small, and the sizes at which an exponential pattern freezes a short prompt. */
const repeatCount = fc.constantFrom(2, 3, 5, 12, 24);
const repeatAtom = fc.constantFrom('\\w', 'a', '[ab]', '.', '\\d', '\\s', '\\r', '\\n', '\\p{L}', '-');
/** Quantifiers that make a part optional or variable, and fixed ones (`{k}`), in every spelling. */
const repeatQuantifier = (k: number) => fc.constantFrom('', '?', '??', '*', '+', '{0,1}', '{,1}', `{${k}}`, `{1,${k}}`, `{0,${k}}`, `{${k},}`);

/** A part: an atom with a quantifier, or a group of parts repeated `{k}` (nested up to three deep). */
const repeatedPart: fc.Arbitrary<string> = fc.letrec<{ part: string }>((tie) => ({
  part: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(repeatAtom, repeatCount).chain(([atom, k]) => repeatQuantifier(k).map((q) => `${atom}${q}`)),
    fc.tuple(fc.array(tie('part'), { minLength: 1, maxLength: 3 }), fc.constantFrom('(', '(?:'), repeatCount, fc.boolean())
      .chain(([parts, open, k, alternate]) => repeatQuantifier(k).map((q) => `${open}${parts.join(alternate ? '|' : '')})${q || `{${k}}`}`)),
  ),
})).part;

/** Patterns like the red team's `(\w?){k}\w{k}`: bounded repetitions of optional parts, then a fixed run. */
export const boundedRepetitionRegex: fc.Arbitrary<string> = fc.tuple(fc.array(repeatedPart, { minLength: 1, maxLength: 4 }), repeatAtom, repeatCount, fc.constantFrom('', '$'))
  .map(([parts, atom, k, end]) => `${parts.join('')}${atom}{${k}}${end}`);

/** Prompts that make such patterns backtrack: a run just short of, at, and past the counts, then a mismatch. */
export const repetitionPrompt: fc.Arbitrary<string> = fc.tuple(fc.constantFrom('a', '1', ' ', '\r\n', 'ab'), fc.constantFrom(5, 11, 23, 24, 25, 48), fc.constantFrom('', '!', '\u0000'))
  .map(([unit, n, tail]) => unit.repeat(n) + tail);

// ---- HTTP requests to the server ----

/** Values that once cost the server: deep nesting, long strings, wrong types, numbers at the edges. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1, 1.5, 1e308, -0, 2 ** 53, '', 'x', {}, []),
  fc.constantFrom(10, 100_000).map((depth) => JSON.parse(`${'['.repeat(depth > 1000 ? 10 : depth)}${']'.repeat(depth > 1000 ? 10 : depth)}`)),
  fc.constant('y'.repeat(200_000)),
  fc.jsonValue({ maxDepth: 3 }),
);

const FIELDS = ['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'seed', 'stop', 'n', 'best_of', 'echo', 'logprobs', 'suffix', 'logit_bias', 'stream', 'stream_options', 'user', 'session', 'frequency_penalty', 'presence_penalty'];

/** A completions body: mostly valid, with some fields hostile, unknown or missing. */
const completionBody = fc.record({
  base: fc.record({
    model: fc.constantFrom('default', 'other'),
    prompt: fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.oneof(fc.nat({ max: 300 }), fc.integer()), { maxLength: 5 }), fc.constant('東'.repeat(300))),
    max_tokens: fc.oneof(fc.constant(0), fc.nat({ max: 4 })),
    stream: fc.boolean(),
  }),
  hostile: fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 6 }), fc.constant('k'.repeat(5000))), hostileValue, { maxKeys: 3 }),
  session: fc.option(fc.oneof(fc.constantFrom('s1', 's2', '../x', '.hidden', 'a'.repeat(129), 'ok.name-1'), fc.string({ maxLength: 8 }))),
}).map(({ base, hostile, session }) => ({ ...base, ...hostile, ...(session === null ? {} : { session }) }));

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * Requests of every shape the server's guard and parser see. Most keep a valid envelope (method, path,
 * key, Host, content type) so that their bodies reach the parser and the generation; the others break
 * one part of it at a time.
 */
export const httpRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  broken: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'none', 'method', 'path', 'contentType', 'host', 'origin', 'authorization', 'sessionHeader'),
  method: fc.constantFrom('GET', 'OPTIONS', 'PUT', 'DELETE'),
  path: fc.constantFrom('/v1/models', '/health', '/v1/../health', '/nope', '/v1/completions?x=1'),
  contentType: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', '', 'APPLICATION/JSON', 'application/json; charset=utf-8'),
  host: fc.constantFrom('localhost', '[::1]:1', 'attacker.example', '', 'bimamba.test', '127.0.0.1.nip.io'),
  origin: fc.constantFrom('https://ok.example', 'https://evil.example', 'null'),
  authorization: fc.constantFrom('Bearer wrong', 'bearer fuzz-key-0001', 'Basic abc', 'Bearer ', '', `Bearer ${'k'.repeat(10_000)}`),
  sessionHeader: fc.constantFrom('s1', '../etc', 'x'.repeat(300), ''),
  body: fc.oneof(
    { arbitrary: completionBody.map((b) => JSON.stringify(b)), weight: 5 },
    { arbitrary: fc.constantFrom('', '{', 'null', '[]', '"x"', '{"model":"bimamba","prompt":"x"', `{"model":"bimamba","prompt":"x","n":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), weight: 1 },
  ),
}).map(({ broken, method, path, contentType, host, origin, authorization, sessionHeader, body }) => {
  const headers: Record<string, string> = { 'content-type': 'application/json', host: '127.0.0.1:8080', authorization: 'Bearer fuzz-key-0001' };
  if (broken === 'contentType') headers['content-type'] = contentType;
  if (broken === 'host') headers.host = host;
  if (broken === 'origin') headers.origin = origin;
  if (broken === 'authorization') headers.authorization = authorization;
  if (broken === 'sessionHeader') headers['bimamba-session'] = sessionHeader;
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const m = broken === 'method' ? method : 'POST';
  return { method: m, path: broken === 'path' ? path : '/v1/completions', headers, body: m === 'GET' || m === 'OPTIONS' ? null : body };
});
