// encode then decode gives the text back (both tokenizers are lossless), and encoding is fast enough.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { referenceTokenizer, seededRandom } from './helpers.js';

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }), // any code point
  fc.string({ unit: fc.constantFrom(' ', '  ', '\n', '\t', 'a', 'é', '日', '🚀', '.', "'s", '<', 's', '>', '0'), maxLength: 30 }),
);

describe('round trip', () => {
  it('gpt-neox-20b: decode(encode(text)) is the text, NFC-normalized', () => {
    const tok = referenceTokenizer('gpt-neox-20b');
    fc.assert(
      fc.property(anyText, (text) => {
        expect(tok.decode(tok.encode(text))).toBe(text.normalize('NFC'));
      }),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('llama2: decode(encode(text)) is the text, unless it spells a special token', () => {
    const tok = referenceTokenizer('llama2');
    fc.assert(
      fc.property(anyText, (text) => {
        fc.pre(!/<s>|<\/s>|<unk>/.test(text)); // these are read as the special tokens, which decode skips
        expect(tok.decode(tok.encode(text))).toBe(text);
      }),
      { seed: 12, numRuns: 1000 },
    );
  });
});

// About 100 KB of word-like text: common words, made-up words (so caches do not hide the work), numbers,
// punctuation, accents, CJK and emoji.
function sampleText(size: number, seed: number): string {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const words = ['the', 'of', 'and', 'a', 'to', 'in', 'is', 'was', 'that', 'for', 'model', 'state', 'space', 'token',
    'binary', 'weights', 'Mamba', 'sequence', 'naïve', 'café', '日本語', 'テキスト', '中文', '🚀', '3.14159', '2024'];
  const separators = [' ', ' ', ' ', ' ', ', ', '. ', '\n', '  ', ' (', ') ', ': '];
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    let word = pick(words);
    if (random() < 0.25) {
      word = '';
      const n = 2 + Math.floor(random() * 9);
      for (let i = 0; i < n; i++) word += pick([...letters]);
    }
    const part = word + pick(separators);
    parts.push(part);
    length += part.length;
  }
  return parts.join('').slice(0, size);
}

describe('encoding speed', () => {
  it.each(['gpt-neox-20b', 'llama2'] as const)('%s encodes 100 KB of text quickly', (name) => {
    const tok = referenceTokenizer(name);
    const text = sampleText(100_000, 7);
    const start = performance.now();
    const ids = tok.encode(text);
    const seconds = (performance.now() - start) / 1000;
    const tokensPerSecond = ids.length / seconds;
    console.log(`${name}: ${ids.length} tokens from ${text.length} chars in ${(seconds * 1000).toFixed(0)} ms = ${Math.round(tokensPerSecond)} tokens/s`);
    expect(tok.decode(ids)).toBe(text);
    // Measured at 190k-520k tokens/s on a shared core; the bound only catches a gross (quadratic) slowdown.
    expect(tokensPerSecond).toBeGreaterThan(5_000);
  });
});
