// The stream decoder: pushed chunks + flush() must add up to decode() of all the ids, and no chunk may
// hold half a character (U+FFFD) when the whole text has none.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TOKENIZER_NAMES, expectedCases, referenceTokenizer, streamChunks } from './helpers.js';

const REPLACEMENT_CHARACTER = '\uFFFD';

describe.each(TOKENIZER_NAMES)('%s stream decoder', (name) => {
  const tok = referenceTokenizer(name);

  it.each(expectedCases(name).map((c) => [JSON.stringify(c.text), c] as const))('streams %s', (_, c) => {
    const chunks = streamChunks(tok, c.ids);
    expect(chunks.join('')).toBe(tok.decode(c.ids));
    if (!c.decoded.includes(REPLACEMENT_CHARACTER)) {
      for (const chunk of chunks) expect(chunk).not.toContain(REPLACEMENT_CHARACTER);
    }
  });

  it('streams a text with BOS in front and EOS in the middle', () => {
    const ids = [tok.bosTokenId!, ...tok.encode(' two  spaces'), tok.eosTokenId!, ...tok.encode(' and more 🚀')];
    expect(streamChunks(tok, ids).join('')).toBe(tok.decode(ids));
  });

  it('flush starts a new stream', () => {
    const stream = tok.createStreamDecoder();
    for (const id of tok.encode('first')) stream.push(id);
    stream.flush();
    let second = '';
    for (const id of tok.encode('second text')) second += stream.push(id);
    expect(second + stream.flush()).toBe('second text');
  });

  // Random ids, weighted towards the tokens that make streaming hard: single bytes, spaces, specials.
  it('adds up to decode() for random id sequences', () => {
    const hardIds = name === 'llama2'
      ? [0, 1, 2, 3 + 0x20, 3 + 0x80, 3 + 0xa4, 3 + 0xe2, 3 + 0xf0, 29871, 259, 13, 30722]
      : [0, 1, 50276, 50277, 187, 209, 14931, 228, 104, 325, 224, 241];
    const anyId = fc.integer({ min: 0, max: tok.vocabSize - 1 });
    const byteId = name === 'llama2' ? fc.integer({ min: 3, max: 258 }) : fc.integer({ min: 0, max: 300 });
    const ids = fc.array(fc.oneof(fc.constantFrom(...hardIds), anyId, byteId), { maxLength: 24 });
    fc.assert(
      fc.property(ids, (ids) => {
        const chunks = streamChunks(tok, ids);
        const whole = tok.decode(ids);
        expect(chunks.join('')).toBe(whole);
        if (!whole.includes(REPLACEMENT_CHARACTER)) {
          for (const chunk of chunks) expect(chunk).not.toContain(REPLACEMENT_CHARACTER);
        }
      }),
      { seed: 4, numRuns: 1500 },
    );
  });

  it('a bad id throws BAD_TOKEN and leaves the stream as it was', () => {
    const stream = tok.createStreamDecoder();
    let text = stream.push(tok.encode('ok')[0]!);
    expect(() => stream.push(tok.vocabSize)).toThrow(expect.objectContaining({ code: 'BAD_TOKEN' }));
    expect(() => stream.push(-1)).toThrow(expect.objectContaining({ code: 'BAD_TOKEN' }));
    text += stream.flush();
    expect(text).toBe(tok.decode([tok.encode('ok')[0]!]));
  });
});

describe('emoji and CJK through LLaMA byte fallback', () => {
  const tok = referenceTokenizer('llama2');
  const text = 'Rocket 🚀, fire 🔥, family 👩‍👩‍👧‍👦 and 𠜎𠜱 (rare CJK) next to 日本語 and naïve';

  it('encodes the characters missing from the vocabulary as UTF-8 byte tokens', () => {
    const ids = tok.encode(text);
    const byteTokens = ids.map((id) => tok.idToToken(id)!).filter((t) => /^<0x[0-9A-F]{2}>$/.test(t));
    // 🚀 is F0 9F 9A 80: four byte tokens in a row.
    const rocketBytes = [...new TextEncoder().encode('🚀')].map((b) => `<0x${b.toString(16).toUpperCase()}>`);
    expect(byteTokens.join(' ')).toContain(rocketBytes.join(' '));
    expect(tok.decode(ids)).toBe(text);
  });

  it('streams whole characters only', () => {
    const ids = tok.encode(text);
    const chunks = streamChunks(tok, ids);
    expect(chunks.join('')).toBe(text);
    for (const chunk of chunks) expect(chunk).not.toContain(REPLACEMENT_CHARACTER);
    // The four byte tokens of 🚀 give nothing, nothing, nothing, then the whole emoji.
    expect(chunks).toContain('🚀');
    expect(chunks.filter((c) => c === '').length).toBeGreaterThanOrEqual(3);
  });
});
