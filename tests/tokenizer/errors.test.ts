// Bad tokenizer files and bad arguments give a BimambaError that says what is wrong, never a crash.
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { referenceTokenizer, tokenizerJson } from './helpers.js';
import { thrownBy } from '../util/errors.js';

const tinyBpe = {
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
  decoder: { type: 'ByteLevel' },
};

describe('loadTokenizer rejects bad tokenizer.json', () => {
  it.each([
    ['invalid JSON', '{"model": {', /not valid JSON/],
    ['truncated real file', tokenizerJson('llama2').slice(0, 5000), /not valid JSON/],
    ['a JSON array', '[1, 2]', /JSON object at the top level, got an array/],
    ['a JSON string', '"tokenizer"', /JSON object at the top level, got a string/],
    ['no model', '{"decoder": null}', /"model" must be an object, got nothing/],
    ['model is null', '{"model": null}', /"model" must be an object, got null/],
    ['unknown model type', '{"model": {"type": "WordLevel", "vocab": {"a": 0}}}', /unsupported model type "WordLevel"/],
    ['no vocabulary', '{"model": {"type": "BPE", "merges": []}}', /"model.vocab" is missing/],
    ['added_tokens not a list', JSON.stringify({ ...tinyBpe, added_tokens: {} }), /"added_tokens" must be an array/],
    ['unknown decoder', JSON.stringify({ ...tinyBpe, decoder: { type: 'Nonsense' } }), /cannot be loaded: .*Nonsense/],
    ['broken merges', JSON.stringify({ ...tinyBpe, model: { ...tinyBpe.model, merges: 7 } }), /cannot be loaded/],
  ])('%s', (_, json, message) => {
    const error = thrownBy(() => loadTokenizer(json));
    expect(error.code).toBe('BAD_FORMAT');
    expect(error.message).toMatch(/^tokenizer\.json: /);
    expect(error.message).toMatch(message);
  });

  it('rejects a non-object argument', () => {
    expect(thrownBy(() => loadTokenizer(42 as unknown as object)).code).toBe('BAD_FORMAT');
  });

  it('loads a minimal hand-written file (parts HF writes as null may be left out)', () => {
    const tok = loadTokenizer(tinyBpe);
    expect(tok.encode('abba')).toEqual([2, 1, 0]);
    expect(tok.decode([2, 1, 0])).toBe('abba');
    expect(tok.vocabSize).toBe(3);
    expect(tok.bosTokenId).toBeNull();
  });

  it('takes BOS/EOS names from the caller and rejects unknown ones', () => {
    const json = tokenizerJson('gpt-neox-20b');
    expect(loadTokenizer(json, { bosToken: '<|im_start|>', eosToken: '<|im_end|>' })).toMatchObject({ bosTokenId: 50277, eosTokenId: 50278 });
    const error = thrownBy(() => loadTokenizer(json, { eosToken: '</s>' }));
    expect(error.code).toBe('BAD_ARGUMENT');
    expect(error.message).toContain('"</s>"');
  });
});

describe('bad arguments', () => {
  const tok = referenceTokenizer('llama2');

  it.each([[[5, 32000]], [[-1]], [[1.5]], [[Number.NaN]], [['7' as unknown as number]]])('decode(%j) names the bad id', (ids) => {
    const error = thrownBy(() => tok.decode(ids));
    expect(error.code).toBe('BAD_TOKEN');
    expect(error.message).toContain(`at position ${ids.length - 1}`);
  });

  it('decode of nothing is the empty text', () => {
    expect(tok.decode([])).toBe('');
  });

  it('encode wants a string', () => {
    expect(thrownBy(() => tok.encode(null as unknown as string)).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => tok.decode('abc' as unknown as number[])).code).toBe('BAD_ARGUMENT');
  });
});
