// The SentencePiece tokenizer against the `sentencepiece` library's own output (tests/tokenizer/sentencepiece/),
// and hostile tokenizer.model files: each is a clear BimambaError, never a crash or a hang.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { parseSentencePieceModel, SENTENCEPIECE_LIMITS } from '../../src/tokenizer/sentencepiece-model.js';
import { embedSentencePiece } from '../../src/tokenizer/sentencepiece-source.js';
import { thrownBy } from '../util/errors.js';
import { tokenizerPath } from '../util/fixtures.js';
import { Rng } from '../util/rng.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const modelBytes = new Uint8Array(readFileSync(tokenizerPath('llama2', 'model')));
interface Fixture {
  vocab_size: number; bos_id: number; eos_id: number; unk_id: number;
  encode: { text: string; ids: number[]; decoded: string }[];
  decode: { ids: number[]; decoded: string }[];
}
const fixture = JSON.parse(readFileSync(here('sentencepiece/llama2.sentencepiece.json'), 'utf8')) as Fixture;

describe.each([
  ['the tokenizer.model bytes', () => loadTokenizer(modelBytes)],
  ['an ArrayBuffer', () => loadTokenizer(modelBytes.slice().buffer)],
  ['the form a .bimamba file embeds', () => loadTokenizer(embedSentencePiece(modelBytes))],
])('LLaMA tokenizer.model loaded from %s equals sentencepiece', (_, load) => {
  const tok = load();

  it('has the vocabulary and special tokens sentencepiece reports', () => {
    expect(tok.vocabSize).toBe(fixture.vocab_size);
    expect(tok.bosTokenId).toBe(fixture.bos_id);
    expect(tok.eosTokenId).toBe(fixture.eos_id);
    expect(tok.addsBos).toBe(true); // LLaMA: every text starts with <s>
    expect(tok.idToToken(fixture.unk_id)).toBe('<unk>');
    expect(tok.tokenToId('▁Hello')).toBe(15043);
    expect(tok.tokenToId('no such piece')).toBeNull();
  });

  it.each(fixture.encode.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))('encode and decode %s', (_, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(c.ids)).toBe(c.decoded);
  });

  it.each(fixture.decode.map((c) => [JSON.stringify(c.ids), c] as const))('decode %s', (_, c) => {
    expect(tok.decode(c.ids)).toBe(c.decoded);
  });
});

describe('SentencePiece tokenizer behaviour', () => {
  const tok = loadTokenizer(modelBytes);

  it('has as many fixture texts as the note says, and the hard ones', () => {
    expect(fixture.encode.length).toBeGreaterThanOrEqual(80);
    expect(fixture.encode.some((c) => c.text.includes('🦙'))).toBe(true);
  });

  it('stream decoding adds up to decode() on every fixture text', () => {
    for (const c of fixture.encode) {
      const stream = tok.createStreamDecoder();
      const text = c.ids.map((id) => stream.push(id)).join('') + stream.flush();
      expect(text).toBe(c.decoded);
    }
  });

  it('round-trips random text of awkward characters', () => {
    const rng = new Rng(7);
    const alphabet = [' ', '  ', '\n', '\t', 'a', 'the', '1', '€', 'é', '日本', '🦙', '👩‍👧', '▁', '<s>', '\u0000', 'ﬁ'];
    for (let i = 0; i < 200; i++) {
      let text = '';
      for (let k = rng.int(0, 30); k >= 0; k--) text += alphabet[rng.int(0, alphabet.length)];
      const ids = tok.encode(text);
      // sentencepiece decodes ▁ written in the text as a space; everything else comes back as it was
      expect(tok.decode(ids)).toBe(text.replaceAll('▁', ' '));
    }
  });

  it('a lone surrogate encodes as U+FFFD, as TextEncoder writes it', () => {
    expect(tok.encode('a\ud800b')).toEqual(tok.encode('a\ufffdb'));
  });

  it('refuses ids outside the vocabulary', () => {
    expect(thrownBy(() => tok.decode([1, 32000])).code).toBe('BAD_TOKEN');
    expect(thrownBy(() => tok.decode([-1])).code).toBe('BAD_TOKEN');
    expect(thrownBy(() => tok.decode([1.5])).code).toBe('BAD_TOKEN');
    expect(thrownBy(() => tok.encode(7 as unknown as string)).code).toBe('BAD_ARGUMENT');
  });

  it('takes the BOS/EOS names it is given', () => {
    expect(loadTokenizer(modelBytes, { eosToken: '<unk>' }).eosTokenId).toBe(0);
    expect(thrownBy(() => loadTokenizer(modelBytes, { bosToken: '<nope>' })).code).toBe('BAD_ARGUMENT');
  });

  it('encodes 100 kB in well under a few seconds', () => {
    const text = fixture.encode.map((c) => c.text).join('\n').repeat(20).slice(0, 100_000);
    const t0 = performance.now();
    const ids = tok.encode(text);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(tok.decode(ids)).toBe(text.replaceAll('▁', ' '));
  });
});

// ---- hostile model files ----

/** Protobuf writer for hand-made models. */
const varint = (n: number): number[] => { const out: number[] = []; do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0); return out; };
const field = (num: number, wire: number, payload: number[]): number[] => [...varint(num * 8 + wire), ...(wire === 2 ? varint(payload.length) : []), ...payload];
const str = (s: string) => [...new TextEncoder().encode(s)];
const f32 = (x: number) => [...new Uint8Array(new Float32Array([x]).buffer)];
const piece = (p: string, score: number, type = 1) => field(1, 2, [...field(1, 2, str(p)), ...field(2, 5, f32(score)), ...field(3, 0, varint(type))]);
const trainer = (...fields: number[][]) => field(2, 2, fields.flat());
const normalizer = (...fields: number[][]) => field(3, 2, fields.flat());
const BPE = field(3, 0, [2]);
const BYTE_FALLBACK = field(35, 0, [1]);
const model = (...parts: number[][]) => new Uint8Array(parts.flat());
const tiny = () => [piece('<unk>', 0, 2), piece('<s>', 0, 3), piece('</s>', 0, 3), piece('▁', -1), piece('a', -2), piece('▁a', -0.5)];

describe('hand-made SentencePiece models', () => {
  it('a minimal BPE model works, with the library defaults for absent fields', () => {
    const tok = loadTokenizer(model(...tiny(), trainer(BPE), normalizer(field(4, 0, [0]))));
    expect(tok.encode('a a')).toEqual([5, 5]);
    expect(tok.encode('b')).toEqual([3, 0]); // no byte fallback: an unknown character is <unk>
    expect(tok.decode([5, 0, 5])).toBe('a ⁇  a');
  });

  it('user-defined pieces are matched whole, longest first, and never merged', () => {
    const tok = loadTokenizer(model(...tiny(), piece('<t>', 0, 4), piece('<tag>', 0, 4), trainer(BPE), normalizer(field(4, 0, [0]))));
    expect(tok.encode('a<tag>a')).toEqual([5, 7, 4]);
    expect(tok.encode('a<t>')).toEqual([5, 6]);
    expect(tok.decode([5, 7, 4])).toBe('a<tag>a');
  });

  it('remove_extra_whitespaces (the default) drops leading, trailing and repeated spaces', () => {
    const tok = loadTokenizer(model(...tiny(), trainer(BPE)));
    expect(tok.encode('  a   a  ')).toEqual([5, 5]);
    expect(tok.encode('   ')).toEqual([]);
  });

  it.each([
    ['an empty file', model(), /empty/],
    ['a truncated varint', model([0x0a, 0x85]), /truncated varint/],
    ['a varint of 11 bytes', model([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 10 bytes/],
    ['a length past the end', model([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a]), /runs past the end/],
    ['a nested length past its message', model(field(1, 2, [0x0a, 0x40, 0x41])), /runs past the end/],
    ['a group (wire type 3)', model([0x0b]), /unsupported wire type 3/],
    ['field number 0', model([0x02, 0x00]), /invalid field number 0/],
    ['a truncated float', model(field(1, 2, [...field(1, 2, str('a')), 0x15, 0x00])), /truncated 32-bit/],
    ['a piece of the wrong wire type', model([0x08, 0x01]), /wire type 0, expected 2/],
    ['invalid UTF-8 in a piece', model(field(1, 2, field(1, 2, [0xff, 0xfe]))), /not valid UTF-8/],
    ['a piece with no text', model(field(1, 2, field(2, 5, f32(0)))), /has no text/],
    ['an unknown piece type', model(piece('<unk>', 0, 9)), /unknown type 9/],
    ['a NaN score', model(piece('<unk>', NaN, 2)), /not a finite number/],
    ['no pieces', model(trainer(BPE)), /no pieces/],
    ['a duplicate piece', model(...tiny(), piece('a', 0), trainer(BPE)), /defined twice/],
    ['no unknown piece', model(piece('a', 0), trainer(BPE)), /no unknown piece/],
    ['two unknown pieces', model(piece('<unk>', 0, 2), piece('<unk2>', 0, 2), trainer(BPE)), /both the unknown piece/],
    ['a byte piece without byte_fallback', model(...tiny(), piece('<0x41>', 0, 6), trainer(BPE)), /byte_fallback is off/],
    ['a malformed byte piece', model(...tiny(), piece('<0xZZ>', 0, 6), trainer(BPE, BYTE_FALLBACK)), /not <0xNN>/],
    ['a piece over the length limit', model(piece('x'.repeat(SENTENCEPIECE_LIMITS.pieceBytes + 1), 0)), /over the limit/],
  ])('%s is BAD_FORMAT', (_, bytes, message) => {
    const e = thrownBy(() => loadTokenizer(bytes));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/^tokenizer\.model/);
    expect(e.message).toMatch(message);
  });

  it.each([
    ['a unigram model', model(...tiny()), /model type unigram/],
    ['normalization rules', model(...tiny(), trainer(BPE), normalizer(field(2, 2, [1, 2, 3]))), /precompiled_charsmap/],
    ['whitespace as suffix', model(...tiny(), trainer(BPE, field(24, 0, [1]))), /treat_whitespace_as_suffix/],
  ])('%s is UNSUPPORTED', (_, bytes, message) => {
    const e = thrownBy(() => loadTokenizer(bytes));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(message);
  });

  it('a file over the size limit is refused before it is read', () => {
    const big = new Uint8Array(SENTENCEPIECE_LIMITS.fileBytes + 1);
    expect(thrownBy(() => parseSentencePieceModel(big)).message).toMatch(/over the limit/);
  });

  it('bad base64 in the embedded form is BAD_FORMAT', () => {
    expect(thrownBy(() => loadTokenizer('{"sentencepiece": "not base64!"}')).code).toBe('BAD_FORMAT');
    expect(thrownBy(() => loadTokenizer({ sentencepiece: 42 })).code).toBe('BAD_FORMAT');
  });

  it('every truncation and random byte flips of the real file are errors or valid models, never crashes', () => {
    const rng = new Rng(3);
    const cuts = [1, 2, 3, 10, 100, 1000, 99_999, modelBytes.length - 1];
    for (const cut of cuts) {
      try { loadTokenizer(modelBytes.subarray(0, cut)); } catch (e) { expect((e as Error).name).toBe('BimambaError'); }
    }
    for (let i = 0; i < 40; i++) {
      const bytes = modelBytes.slice(0, 4000);
      for (let k = 0; k < 5; k++) bytes[rng.int(0, bytes.length)] = rng.int(0, 256);
      try { loadTokenizer(bytes); } catch (e) { expect((e as Error).name).toBe('BimambaError'); }
    }
  });
});
