// GBNF grammars: ours in the spirit of llama.cpp's grammars/ folder parse, the built-in model's outputs
// under them (temperature 1, several seeds) match them by an independent parse, the recognizer agrees
// with hand-written checks on strings, and hostile grammars are refused with an error naming the place.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { compileRules } from '../../src/grammar/compile.js';
import { parseGbnf } from '../../src/grammar/gbnf.js';
import { DEAD, Recognizer } from '../../src/grammar/recognizer.js';
import { DEFAULT_MODEL } from '../server/serve.js';
import { WASM_URL } from '../util/wasm.js';

const grammar = (name: string) => readFileSync(new URL(`./grammars/${name}.gbnf`, import.meta.url), 'utf8');
const utf8 = new TextEncoder();

/** Whether the grammar matches the whole text (the recognizer alone, no model). */
function matches(g: string, text: string): boolean {
  const r = new Recognizer(compileRules(parseGbnf(g)));
  const s = r.walk(r.initial, utf8.encode(text));
  return s !== DEAD && r.accepts(s);
}

/** An independent parser for arithmetic.gbnf: recursive descent, true when all of `s` is one expression. */
function isArithmetic(s: string): boolean {
  let i = 0;
  const ws = () => { if (s[i] === ' ') i++; };
  const factor = (): boolean => {
    if (s[i] === '(') {
      i++; ws();
      if (!expr()) return false;
      ws();
      return s[i++] === ')';
    }
    const m = /^[0-9]{1,6}/.exec(s.slice(i));
    if (!m) return false;
    i += m[0].length;
    return !/[0-9]/.test(s[i] ?? '');
  };
  const chain = (operand: () => boolean, ops: string) => (): boolean => {
    if (!operand()) return false;
    for (;;) {
      const save = i;
      ws();
      if (!ops.includes(s[i] ?? '#')) { i = save; return true; }
      i++; ws();
      if (!operand()) return false;
    }
  };
  const term = chain(factor, '*/');
  const expr: () => boolean = chain(term, '+-');
  return expr() && i === s.length;
}

const SAN = /^(?:[KQRBN]?[a-h]?[1-8]?x?[a-h][1-8](?:=[QRBN])?|O-O(?:-O)?)[+#]?$/;
function isChess(s: string): boolean {
  const m = /^1\. (\S+) (\S+)((?: [2-9]\. \S+ \S+){0,3})$/.exec(s);
  if (!m || !SAN.test(m[1]) || !SAN.test(m[2])) return false;
  return [...m[3].matchAll(/ [2-9]\. (\S+) (\S+)/g)].every((x) => SAN.test(x[1]) && SAN.test(x[2]));
}

const independent: Record<string, (s: string) => boolean> = {
  json: (s) => { try { JSON.parse(s); return true; } catch { return false; } },
  arithmetic: isArithmetic,
  list: (s) => /^(?:- [A-Za-z][a-z ,]{0,30}\n){1,5}$/.test(s),
  chess: isChess,
};

describe('GBNF grammars', () => {
  it('parse, and the recognizer accepts and refuses what an independent parse does', () => {
    const cases: [string, string, boolean][] = [
      ['json', '{"a": [1, -2.5, "x\\n", {"b": null}], "c": true}', true],
      ['json', '{"a": 01}', false],
      ['json', '[1, 2,]', false],
      ['arithmetic', '12 * (3 + 4) / 5 - 6', true],
      ['arithmetic', '(1 + 2', false],
      ['arithmetic', '1 + * 2', false],
      ['list', '- apples\n- Pears, plums\n', true],
      ['list', '- a\n- b\n- c\n- d\n- e\n- f\n', false],
      ['chess', '1. e4 e5 2. Nf3 Nc6 3. Bb5 a6', true],
      ['chess', '1. O-O Qxd8+ 2. exd8=Q# Kf7', true],
      ['chess', '1. e9 e5', false],
    ];
    for (const [name, text, expected] of cases) {
      expect(independent[name](text), `${name}: ${text}`).toBe(expected);
      expect(matches(grammar(name), text), `${name}: ${text}`).toBe(expected);
    }
  });

  it('read escapes, classes, repetitions and multi-line alternatives as llama.cpp writes them', () => {
    const g = 'root ::= (\n  "a" |\n  [\\u00e9\\x41-\\x43] )+ end\nend ::= "\\x21"{2} # two !\n';
    expect(matches(g, 'aéB!!')).toBe(true);
    expect(matches(g, 'aD!!')).toBe(false);
    expect(matches(g, 'a!')).toBe(false);
    expect(matches('root ::= [^a]', 'é')).toBe(true); // a class past ASCII: its UTF-8 bytes
    expect(matches('root ::= [^a]', '😀')).toBe(true);
    expect(matches('root ::= [^a]', 'a')).toBe(false);
    expect(matches('root ::= "x"{2,3}', 'xxxx')).toBe(false);
    expect(matches('root ::= "x"{2,}', 'xxxxxx')).toBe(true);
  });
});

describe('generation under a grammar (built-in model, temperature 1)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
  });
  afterAll(() => model?.dispose());

  for (const name of ['json', 'arithmetic', 'list', 'chess']) {
    it(`${name}: every output matches it by an independent parse`, async () => {
      const prompts: Record<string, string> = { json: 'Data: ', arithmetic: 'Compute: ', list: 'Shopping list:\n', chess: 'The game went ' };
      for (let seed = 0; seed < 10; seed++) {
        const c = await model.complete(prompts[name], { grammar: grammar(name), temperature: 1, seed, maxTokens: 300 });
        expect(c.finishReason, `${name} seed ${seed}: ${JSON.stringify(c.text)}`).toMatch(/^(stop|eos)$/);
        expect(independent[name](c.text), `${name} seed ${seed}: ${JSON.stringify(c.text)}`).toBe(true);
      }
    });
  }

  it('a maxTokens cut ends as length with a valid prefix', async () => {
    const c = await model.complete('List:\n', { grammar: grammar('list'), temperature: 1, seed: 1, maxTokens: 3 });
    expect(c.finishReason).toBe('length');
    const r = new Recognizer(compileRules(parseGbnf(grammar('list'))));
    expect(r.walk(r.initial, utf8.encode(c.text))).not.toBe(DEAD);
  });

  it('keeps sampling as it was: the same seed gives the same text, greedy is deterministic', async () => {
    const o = { grammar: grammar('arithmetic'), temperature: 1, seed: 7, maxTokens: 60 };
    expect((await model.complete('1 + ', o)).text).toBe((await model.complete('1 + ', o)).text);
    const greedy = await model.complete('1 + ', { ...o, temperature: 0 });
    expect(isArithmetic(greedy.text) || greedy.finishReason === 'length').toBe(true);
  });

  it('the repetition penalty, top-k, top-p and min-p never bring back a masked token', async () => {
    const settings = [
      { temperature: 0, repetitionPenalty: 5 },
      { temperature: 1.5, repetitionPenalty: 3, topK: 0, topP: 1 },
      { temperature: 1, topK: 2, topP: 0.5, minP: 0.2 },
    ];
    for (const s of settings) {
      for (let seed = 0; seed < 3; seed++) {
        const c = await model.complete('Shopping list:\n- eggs\n- eggs\n', { grammar: grammar('list'), seed, maxTokens: 300, ...s });
        expect(independent.list(c.text), `${JSON.stringify(s)} seed ${seed}: ${JSON.stringify(c.text)}`).toBe(true);
      }
    }
  });

  it('a grammar whose parses stay many at every byte is stopped by the work bound, naming why', async () => {
    // 4000 ways to read each letter, at a new depth each time: every trie edge is a new state of 4000 parses
    const g = `root ::= x{0,1000}\nx ::= ${Array.from({ length: 4000 }, () => '[a-z]').join(' | ')}`;
    await expect(model.complete('x', { grammar: g, maxTokens: 2 })).rejects.toThrow(/too costly: .* more than 20000000 parse steps/);
  });

  it('reports the model\'s own logprobs (before the mask), and only grammar tokens are sampled', async () => {
    const items = [];
    for await (const t of model.generate('Moves: ', { grammar: 'root ::= [a-h] [1-8]', temperature: 1, seed: 3, logprobs: 5 })) items.push(t);
    const first = items[0];
    expect(first.logprob).toBeLessThan(0);
    // top logprobs are the model's best tokens, which need not be allowed by the grammar
    const unconstrained = [];
    for await (const t of model.generate('Moves: ', { temperature: 0, logprobs: 5, maxTokens: 1 })) unconstrained.push(t);
    expect(first.topLogprobs!.map((t) => t.token)).toEqual(unconstrained[0].topLogprobs!.map((t) => t.token));
    expect(items.map((t) => t.text).join('')).toMatch(/^[a-h][1-8]$/);
    expect(items.at(-1)!.finishReason).toBe('stop');
  });
});

describe('hostile grammars are refused, naming the place', () => {
  const refuse = (g: string, message: RegExp) => {
    const t0 = performance.now();
    expect(() => new Recognizer(compileRules(parseGbnf(g)))).toThrow(message);
    return performance.now() - t0;
  };
  it('left recursion, direct and through a rule that matches ""', () => {
    refuse('root ::= root "a" | "b"', /left recursion: the rule "root"/);
    refuse('root ::= x\nx ::= e x "b" | "c"\ne ::= "a"?', /left recursion: the rule "x"/);
    refuse('root ::= ("a"?)*', /left recursion: the rule "root"/);
  });
  it('undefined and duplicate rules, syntax errors with a line and column', () => {
    refuse('root ::= foo', /"foo" is used at line 1, column 10 but never defined/);
    refuse('root ::= "a"\nroot ::= "b"', /defined twice/);
    refuse('root ::= "a\n', /unterminated string literal at line 1, column 10/);
    refuse('root ::= [b-a]', /range ends before it starts/);
    refuse('expr ::= "a"', /no rule named root/);
    refuse('root ::= "\\q"', /unknown escape/);
  });
  it('deep nesting, huge repetitions, huge grammars', () => {
    refuse(`root ::= ${'('.repeat(100_000)}"a"${')'.repeat(100_000)}`, /nest deeper than 64 at line 1/);
    refuse('root ::= "a"{1000000}', /repetition bound of 1000000 is over 1000/);
    // nested repetitions multiply: (x{1000}){1000} is a million elements... lowered to 2000, but chains add up
    refuse(`root ::= ${Array.from({ length: 600 }, (_, i) => `r${i}`).join(' ')}\n${Array.from({ length: 600 }, (_, i) => `r${i} ::= [a-z]{1000}`).join('\n')}`, /grows past \d+ elements in the rule "r\d+"/);
    refuse(`root ::= "${'a'.repeat(2 << 20)}"`, /at most 1048576 are taken/);
  });
  it('an ambiguous grammar whose parses multiply is stopped when they pass the bound', () => {
    const g = 'root ::= x\nx ::= "a" x "b" | "a" x "c" | "a" x "d" | ""';
    const r = new Recognizer(compileRules(parseGbnf(g)));
    expect(() => r.walk(r.initial, utf8.encode('a'.repeat(20)))).toThrow(/too ambiguous: more than 4096 parses/);
  });
});
