// Untrusted text: a tokenizer.json whose regular expression would backtrack exponentially is refused,
// and hostile prompts cost the real tokenizers time linear in their length.
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { compiledPatterns, nestedQuantifier } from '../../src/tokenizer/regex-check.js';
import { thrownBy } from '../util/errors.js';
import { byteTokenizerJson, tokenizerPath } from '../util/fixtures.js';

/** The byte-level test tokenizer with a Split pre-tokenizer on `regex`. */
function withSplit(regex: string): Record<string, unknown> {
  const t = JSON.parse(byteTokenizerJson());
  t.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  return t;
}

/** Milliseconds `f` takes: the best of `runs` (timer and GC noise only ever add time). */
function ms(f: () => unknown, runs = 1): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Split patterns of common tokenizers, and a few plain ones that look alarming but are not. */
const COMMON = [
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", // GPT-2, GPT-NeoX
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", // cl100k, LLaMA-3
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", // o200k
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", // Qwen
  '(?:\\r?\\n)+', '\\p{N}{1,3}', '[(+)*]+', '\\(a+\\)+',
];


describe('regular expressions in tokenizer.json', () => {
  it('a pattern with nested quantifiers is refused: the library would take exponential time on a short prompt', () => {
    const hostile = withSplit('(a+)+$');
    // the risk is real: straight through the library, each more character doubles the time
    const raw = new HfTokenizer({ normalizer: null, post_processor: null, decoder: null, ...hostile } as never, {});
    raw.encode('aaaab');
    const t15 = ms(() => raw.encode('a'.repeat(15) + 'b'), 3);
    const t21 = ms(() => raw.encode('a'.repeat(21) + 'b'));
    expect(t21).toBeGreaterThan(8 * Math.max(t15, 0.5));
    let error: unknown;
    try {
      loadTokenizer(hostile);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BimambaError);
    expect((error as BimambaError).code).toBe('BAD_FORMAT');
    expect((error as BimambaError).message).toMatch(/regular expression "\(a\+\)\+\$" could take exponential time/);
  });

  it('the patterns of common tokenizers pass the check, the classic catastrophic shapes do not', () => {
    for (const p of COMMON) {
      expect(nestedQuantifier(p), p).toBeNull();
      loadTokenizer(withSplit(p)).encode('Hello world, 123 times!\n\n');
    }
    const bypasses = ['a{1,2}+$', '(a+){,99}$', `(a+){1,${'9'.repeat(30)}}$`, `${'a*'.repeat(12)}$`, '(a|a)*$', '(?:ab|a)+c', '(a)\\1', 'a*+'];
    for (const p of ['(a+)+$', '(a*)*', '(\\w+\\s?)*$', '((ab)+)+', '(?:a+){2,}', '(x+x+)+y', '(a{1,5})+', '(?<n>a+)*', '(a+)+?', '(\\p{L}+ )*', ...bypasses]) {
      expect(nestedQuantifier(p), p).not.toBeNull();
      expect(thrownBy(() => loadTokenizer(withSplit(p))).message, p).toMatch(/could take exponential time/);
    }
  });

  it('a bounded repetition of an optional part is refused: (\\w?){k}\\w{k} doubles its time with each k', () => {
    const hostile = (k: number) => withSplit(`(\\w?){${k}}\\w{${k}}`);
    const raw = (k: number) => new HfTokenizer({ normalizer: null, post_processor: null, decoder: null, ...hostile(k) } as never, {});
    const t12 = ms(() => raw(12).encode('a'.repeat(11) + '!'), 3);
    const t18 = ms(() => raw(18).encode('a'.repeat(17) + '!'));
    expect(t18).toBeGreaterThan(8 * Math.max(t12, 0.5));
    expect(thrownBy(() => loadTokenizer(hostile(24))).message).toMatch(/a repeated group holds an optional part/);
    const kin = ['(x?){5}', '(x??){3}y', '(x{0,1}){9}', '(?:x?){2,3}', '(a?a)+', '(?:a?b?)+', '(\\r?\\s)+', '(\\r?\\n+)+', '((ab)?c)+', '(?:(?:a?)b){4}', '(?i:a?A)+',
      '\\w?'.repeat(24) + '\\w'.repeat(24)];
    for (const p of kin) {
      expect(nestedQuantifier(p), p).not.toBeNull();
      expect(thrownBy(() => loadTokenizer(withSplit(p))).message, p).toMatch(/could take exponential time/);
    }
    // an optional character guarded by a different one, fixed repetitions and a few optional parts pass
    for (const p of ['(?:\\r?\\n)+', '(ab){3}', '(\\p{L}){2,4}', 'a?b?c?', ' ?\\p{L}+|\\s+', '(?:-?\\d)+']) expect(nestedQuantifier(p), p).toBeNull();
  });

  it('the patterns the library compiles from the common ones (after its Oniguruma rewrites) pass the check too', () => {
    for (const p of COMMON) {
      const hf = new HfTokenizer({ normalizer: null, post_processor: null, decoder: null, ...withSplit(p) } as never, {}) as unknown as Record<string, unknown>;
      const compiled = compiledPatterns([hf.normalizer, hf.pre_tokenizer, hf.decoder]);
      expect(compiled.length).toBeGreaterThan(0);
      for (const c of compiled) expect(nestedQuantifier(c), c).toBeNull();
    }
  });
});

describe('hostile prompts', () => {
  it('cost the GPT-NeoX and LLaMA-2 tokenizers time about linear in their length', () => {
    const inputs: Record<string, (n: number) => string> = {
      'one long word': (n) => 'a'.repeat(n),
      'a run of spaces, then a letter': (n) => ' '.repeat(n) + 'x',
      'newlines': (n) => '\n'.repeat(n),
      'digits': (n) => '7'.repeat(n),
    };
    for (const name of ['gpt-neox-20b', 'llama2'] as const) {
      const tok = loadTokenizer(readFileSync(tokenizerPath(name), 'utf8'));
      for (const [what, make] of Object.entries(inputs)) {
        const short = make(5_000);
        const long = make(20_000);
        const tShort = ms(() => tok.encode(short), 3);
        const tLong = ms(() => tok.encode(long), 2);
        // 4x the text: about 4x the time if linear (LLaMA-2's BPE over one long word measures up to
        // 9x: n log n and garbage collection), 16x if quadratic; a 10 ms floor for timer noise
        expect(tLong, `${name}, ${what}: ${tShort.toFixed(1)} ms then ${tLong.toFixed(1)} ms`).toBeLessThan(12 * Math.max(tShort, 10));
        expect(tLong, `${name}, ${what}`).toBeLessThan(3000);
      }
    }
  });
});
