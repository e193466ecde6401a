// Our tokenizer against HF `tokenizers` (Rust): the same ids and the same decoded text, for every fixture text.
import { describe, expect, it } from 'vitest';
import { TOKENIZER_NAMES, expectedCases, referenceTokenizer } from './helpers.js';

describe.each(TOKENIZER_NAMES)('%s matches HF tokenizers', (name) => {
  const cases = expectedCases(name);

  it('has the fixture cases', () => {
    expect(cases.length).toBe(20);
  });

  it.each(cases.map((c) => [JSON.stringify(c.text), c] as const))('encode %s', (_, c) => {
    expect(referenceTokenizer(name).encode(c.text)).toEqual(c.ids);
  });

  it.each(cases.map((c) => [JSON.stringify(c.text), c] as const))('decode %s', (_, c) => {
    expect(referenceTokenizer(name).decode(c.ids)).toBe(c.decoded);
  });
});

describe('vocabulary and special tokens', () => {
  it('gpt-neox-20b: <|endoftext|> begins and ends a text', () => {
    const tok = referenceTokenizer('gpt-neox-20b');
    expect(tok.vocabSize).toBe(50281); // 50254 BPE tokens + added tokens up to id 50280
    expect(tok.bosTokenId).toBe(0);
    expect(tok.eosTokenId).toBe(0);
    expect(tok.idToToken(0)).toBe('<|endoftext|>');
    expect(tok.tokenToId('Hello')).toBe(12092);
    expect(tok.idToToken(12092)).toBe('Hello');
  });

  it('llama2: <s> and </s>, byte-fallback tokens', () => {
    const tok = referenceTokenizer('llama2');
    expect(tok.vocabSize).toBe(32000);
    expect(tok.bosTokenId).toBe(1);
    expect(tok.eosTokenId).toBe(2);
    expect(tok.tokenToId('<0xE2>')).toBe(3 + 0xe2);
    expect(tok.idToToken(15043)).toBe('▁Hello');
  });

  it('unknown tokens and ids give null', () => {
    const tok = referenceTokenizer('llama2');
    expect(tok.tokenToId('no such token, surely')).toBeNull();
    expect(tok.idToToken(32000)).toBeNull();
    expect(tok.idToToken(-1)).toBeNull();
    expect(tok.idToToken(1.5)).toBeNull();
  });

  it('encode adds no BOS, decode leaves special tokens out', () => {
    const tok = referenceTokenizer('llama2');
    const ids = tok.encode('Hello world');
    expect(ids[0]).not.toBe(tok.bosTokenId);
    expect(tok.decode([tok.bosTokenId!, ...ids, tok.eosTokenId!])).toBe('Hello world');
  });

  it('decode does not "clean up" spaces before punctuation (HF tokenizers does not)', () => {
    const text = "Hello , world . don 't stop !";
    for (const name of TOKENIZER_NAMES) {
      const tok = referenceTokenizer(name);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });
});
