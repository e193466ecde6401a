// GBNF, llama.cpp's grammar format, parsed into rules of expressions.
//
//   root  ::= "{" ws pair ("," ws pair)* "}"     # a rule: a name, ::=, alternatives split by |
//   pair  ::= [a-z]+ ":" ws [0-9]{1,3}            # literals, classes [a-z] [^"\\], ., groups ( ),
//   ws    ::= [ \t\n]*                            # and the postfixes * + ? {m} {m,} {m,n}
//
// A rule ends at the end of a line unless the line ends inside parentheses, or the next line does not
// start a new rule (`name ::=`): alternatives may go on over several lines. Every mistake is an error
// naming the line and column.
import { BimambaError } from '../errors.js';

export type Expr =
  | { k: 'seq'; items: Expr[] }
  | { k: 'alt'; alts: Expr[] }
  /** Code point ranges [lo0, hi0, lo1, hi1, ...], both ends included; `negated`: every other code point. */
  | { k: 'chars'; ranges: number[]; negated: boolean }
  | { k: 'lit'; text: string }
  /** `at`: the offset in the grammar text (GrammarRules.location names it). */
  | { k: 'ref'; name: string; at: number }
  /** `max` -1: no upper bound. */
  | { k: 'rep'; e: Expr; min: number; max: number };

export interface GrammarRules {
  rules: Map<string, Expr>;
  /** Offset of each rule's definition. */
  where: Map<string, number>;
  /** "line 3, column 1" for an offset (computed only for a message). */
  location(at: number): string;
}

/** Longest grammar text we parse. */
export const MAX_GRAMMAR_CHARS = 1 << 20;
/** Deepest nesting of parentheses. */
export const MAX_NESTING = 64;
/** Largest bound of a {m,n} repetition. */
export const MAX_REPEAT = 1000;

const seq = (items: Expr[]): Expr => (items.length === 1 ? items[0] : { k: 'seq', items });

export function grammarError(message: string): BimambaError {
  return new BimambaError('BAD_ARGUMENT', `grammar: ${message}`);
}

export function parseGbnf(text: string): GrammarRules {
  if (typeof text !== 'string') throw grammarError(`the grammar must be a string of GBNF, not ${typeof text}`);
  if (text.length > MAX_GRAMMAR_CHARS) throw grammarError(`the grammar is ${text.length} characters long; at most ${MAX_GRAMMAR_CHARS} are taken`);
  let pos = 0;
  const rules = new Map<string, Expr>();
  const where = new Map<string, number>();

  const location = (at = pos): string => {
    let line = 1;
    let start = 0;
    for (let i = 0; i < at; i++) if (text.charCodeAt(i) === 10) { line++; start = i + 1; }
    return `line ${line}, column ${at - start + 1}`;
  };
  const fail = (what: string, at = pos): never => { throw grammarError(`${what} at ${location(at)}`); };

  const isWord = (c: string) => /[A-Za-z0-9_-]/.test(c);
  /** Skip blanks and comments; newlines too when `newlines`. */
  const space = (newlines: boolean) => {
    while (pos < text.length) {
      const c = text[pos];
      if (c === '#') while (pos < text.length && text[pos] !== '\n') pos++;
      else if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) pos++;
      else break;
    }
  };
  const name = (): string => {
    const start = pos;
    while (pos < text.length && isWord(text[pos])) pos++;
    if (pos === start) fail(`expected a rule name, found ${JSON.stringify(text[pos] ?? 'the end')}`);
    return text.slice(start, pos);
  };
  /** Whether a new rule (`name ::=`) starts at the next non-blank position. */
  const ruleStartsAhead = (): boolean => {
    const save = pos;
    space(true);
    let i = pos;
    while (i < text.length && isWord(text[i])) i++;
    let j = i;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    const starts = pos >= text.length || (i > pos && text.startsWith('::=', j));
    pos = save;
    return starts;
  };

  const hex = (digits: number): number => {
    const s = text.slice(pos, pos + digits);
    if (s.length < digits || !/^[0-9a-fA-F]+$/.test(s)) fail(`expected ${digits} hex digits`);
    pos += digits;
    return parseInt(s, 16);
  };
  /** One character of a literal or class, escapes read; returns a code point. */
  const char = (): number => {
    if (pos >= text.length) fail('unexpected end of the grammar');
    const c = text.codePointAt(pos)!;
    if (c !== 0x5c) { pos += c > 0xffff ? 2 : 1; return c; }
    pos++;
    const e = text[pos++];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, '"': 34, "'": 39, '[': 91, ']': 93, '-': 45, '^': 94, '/': 47, '0': 0 };
    if (e in simple) return simple[e];
    let cp = -1;
    if (e === 'x') cp = hex(2);
    else if (e === 'u') cp = hex(4);
    else if (e === 'U') cp = hex(8);
    else fail(`unknown escape \\${e ?? ''}`, pos - 2);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(`\\${e} escape is not a Unicode scalar value`, pos - 2);
    return cp;
  };

  const alternatives = (depth: number, nested: boolean): Expr => {
    const alts: Expr[] = [sequence(depth, nested)];
    while (text[pos] === '|') {
      pos++;
      space(true);
      alts.push(sequence(depth, nested));
    }
    return alts.length === 1 ? alts[0] : { k: 'alt', alts };
  };

  const sequence = (depth: number, nested: boolean): Expr => {
    const items: Expr[] = [];
    for (;;) {
      space(nested);
      if (!nested && text[pos] === '\n') {
        if (ruleStartsAhead()) break;
        space(true);
      }
      if (pos >= text.length) break;
      const c = text[pos];
      const start = pos;
      let item: Expr;
      if (c === '|' || c === ')') break;
      if (c === '"') {
        pos++;
        let s = '';
        while (text[pos] !== '"') {
          if (pos >= text.length || text[pos] === '\n') fail('unterminated string literal', start);
          s += String.fromCodePoint(char());
        }
        pos++;
        item = { k: 'lit', text: s };
      } else if (c === '[') {
        pos++;
        const negated = text[pos] === '^';
        if (negated) pos++;
        const ranges: number[] = [];
        while (text[pos] !== ']') {
          if (pos >= text.length) fail('unterminated character class', start);
          const lo = char();
          let hi = lo;
          if (text[pos] === '-' && text[pos + 1] !== ']' && pos + 1 < text.length) {
            pos++;
            hi = char();
            if (hi < lo) fail(`the range ends before it starts`, start);
          }
          ranges.push(lo, hi);
        }
        pos++;
        item = { k: 'chars', ranges, negated };
      } else if (c === '.') {
        pos++;
        item = { k: 'chars', ranges: [], negated: true };
      } else if (c === '(') {
        if (depth >= MAX_NESTING) fail(`parentheses nest deeper than ${MAX_NESTING}`);
        pos++;
        space(true);
        item = alternatives(depth + 1, true);
        space(true);
        if (text[pos] !== ')') fail('expected )', pos);
        pos++;
      } else if (isWord(c)) {
        const at = pos;
        const n = name();
        item = { k: 'ref', name: n, at };
      } else {
        return fail(`unexpected ${JSON.stringify(c)}`);
      }
      space(nested);
      // postfix operators
      for (;;) {
        const p = text[pos];
        if (p === '*' || p === '+' || p === '?') {
          pos++;
          item = { k: 'rep', e: item, min: p === '+' ? 1 : 0, max: p === '?' ? 1 : -1 };
        } else if (p === '{') {
          const open = pos++;
          space(false);
          const number = (): number => {
            const m = /^[0-9]+/.exec(text.slice(pos, pos + 12));
            if (!m) fail('expected a number in { }');
            pos += m![0].length;
            space(false);
            const n = Number(m![0]);
            if (n > MAX_REPEAT) fail(`a repetition bound of ${n} is over ${MAX_REPEAT}`, open);
            return n;
          };
          const min = number();
          let max = min;
          if (text[pos] === ',') {
            pos++;
            space(false);
            max = text[pos] === '}' ? -1 : number();
          }
          if (text[pos] !== '}') fail('expected } closing the repetition', pos);
          pos++;
          if (max !== -1 && max < min) fail(`the repetition {${min},${max}} has its maximum below its minimum`, open);
          item = { k: 'rep', e: item, min, max };
        } else break;
        space(nested);
      }
      items.push(item);
    }
    return seq(items);
  };

  space(true);
  while (pos < text.length) {
    const at = pos;
    const n = name();
    space(false);
    if (!text.startsWith('::=', pos)) fail(`expected ::= after the rule name ${JSON.stringify(n)}`);
    pos += 3;
    space(true);
    if (rules.has(n)) fail(`the rule ${JSON.stringify(n)} is defined twice (first at ${location(where.get(n)!)})`, at);
    where.set(n, at);
    rules.set(n, alternatives(0, false));
    space(true);
    if (pos < text.length && !isWord(text[pos])) fail(`unexpected ${JSON.stringify(text[pos])}`);
  }
  if (!rules.has('root')) throw grammarError('the grammar has no rule named root');
  return { rules, where, location };
}
