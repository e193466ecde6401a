// A JSON Schema `pattern` (an ECMAScript regular expression) as a GBNF expression over the characters of
// a JSON string's content. The safe subset: literals, classes ([a-z], [^...], \d \w \s and their
// negations, .), groups ((...), (?:...), (?<name>...)), alternation, and the quantifiers ? * + {m} {m,}
// {m,n} (lazy ones match the same strings). Anchors ^ and $ only at the ends; an end without one lets
// any characters stand there, as a pattern matches anywhere in the string. Backreferences, lookaround,
// \b and flags are refused. Characters JSON must escape (" \ and controls) are written escaped.
import { BimambaError } from '../errors.js';
import { MAX_NESTING, MAX_REPEAT } from './gbnf.js';

/** Longest pattern we convert. */
export const MAX_PATTERN_CHARS = 4096;

type Ranges = number[]; // [lo, hi, lo, hi, ...] code points

const DIGIT: Ranges = [0x30, 0x39];
const WORD: Ranges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const SPACE: Ranges = [0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff];

function complement(r: Ranges): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < r.length; i += 2) pairs.push([r[i], r[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of pairs) {
    if (lo > next) out.push(next, lo - 1);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push(next, 0x10ffff);
  return out;
}

/** A code point inside a GBNF class or literal. */
function gbnfChar(cp: number): string {
  if (cp < 0x20 || cp === 0x7f || cp === 0x22 || cp === 0x5c || cp === 0x5b || cp === 0x5d || cp === 0x2d || cp === 0x5e) {
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return String.fromCodePoint(cp);
}

/** The JSON-string form of a set of characters: the plain ones as a class, `"` and `\` escaped. */
export function jsonCharsExpr(r: Ranges): string {
  // remove what a JSON string cannot hold raw: controls, ", \ (and surrogates, which the compiler drops)
  const raw = intersect(r, complement([0x00, 0x1f, 0x22, 0x22, 0x5c, 0x5c]));
  const parts: string[] = [];
  if (raw.length) {
    let cls = '[';
    for (let i = 0; i < raw.length; i += 2) cls += raw[i] === raw[i + 1] ? gbnfChar(raw[i]) : `${gbnfChar(raw[i])}-${gbnfChar(raw[i + 1])}`;
    parts.push(cls + ']');
  }
  // controls only where nothing else is allowed (a pattern's \n): written as JSON escapes
  if (!raw.length) for (const [cp, e] of [[10, 'n'], [13, 'r'], [9, 't']] as const) if (contains(r, cp)) parts.push(`"\\\\${e}"`);
  if (contains(r, 0x22)) parts.push('"\\\\\\""');
  if (contains(r, 0x5c)) parts.push('"\\\\\\\\"');
  if (!parts.length) return '';
  return parts.length === 1 ? parts[0] : `(${parts.join(' | ')})`;
}

function contains(r: Ranges, cp: number): boolean {
  for (let i = 0; i < r.length; i += 2) if (r[i] <= cp && cp <= r[i + 1]) return true;
  return false;
}

function intersect(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  for (let i = 0; i < a.length; i += 2) {
    for (let j = 0; j < b.length; j += 2) {
      const lo = Math.max(a[i], b[j]);
      const hi = Math.min(a[i + 1], b[j + 1]);
      if (lo <= hi) out.push(lo, hi);
    }
  }
  return out;
}

/** `pattern` as a GBNF expression for a JSON string's content; `where` names it in errors (a JSON pointer). */
export function patternToGbnf(pattern: string, where: string): string {
  const fail = (what: string, at: number): never => {
    throw new BimambaError('UNSUPPORTED', `json schema: the pattern at ${where} ${what} (at character ${at + 1} of ${JSON.stringify(pattern)})`);
  };
  if (pattern.length > MAX_PATTERN_CHARS) fail(`is longer than ${MAX_PATTERN_CHARS} characters`, 0);
  const anyChar = complement([]);
  let pos = 0;
  let anchoredStart = false;
  let anchoredEnd = false;
  if (pattern[0] === '^') { anchoredStart = true; pos = 1; }
  let end = pattern.length;
  if (end > pos && pattern[end - 1] === '$' && pattern[end - 2] !== '\\') { anchoredEnd = true; end--; }

  const escapeClass = (c: string, at: number): Ranges | number => {
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return complement(DIGIT);
      case 'w': return WORD;
      case 'W': return complement(WORD);
      case 's': return SPACE;
      case 'S': return complement(SPACE);
      case 'n': return 10;
      case 'r': return 13;
      case 't': return 9;
      case 'f': return 12;
      case 'v': return 11;
      case '0': return 0;
      case 'x': {
        const h = pattern.slice(pos, pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('has a bad \\x escape', at);
        pos += 2;
        return parseInt(h, 16);
      }
      case 'u': {
        const h = pattern.slice(pos, pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('has a bad \\u escape', at);
        pos += 4;
        return parseInt(h, 16);
      }
    }
    if (/[1-9]/.test(c)) fail('has a backreference, which is not supported', at);
    if (c === 'b' || c === 'B') fail('has a word boundary (\\b), which is not supported', at);
    if (/[a-zA-Z]/.test(c)) fail(`has the escape \\${c}, which is not supported`, at);
    return c.codePointAt(0)!;
  };

  const classBody = (at: number): Ranges => {
    // after '['
    let negated = false;
    if (pattern[pos] === '^') { negated = true; pos++; }
    const r: Ranges = [];
    let first = true;
    while (pos < end && (pattern[pos] !== ']' || first)) {
      first = false;
      const readOne = (): Ranges | number => {
        const c = pattern[pos++];
        if (c === '\\') {
          const e = pattern[pos++];
          if (e === undefined) fail('ends inside an escape', at);
          return e === 'b' ? 8 : escapeClass(e, pos - 2);
        }
        if (c === '[' && pattern[pos] === ':') fail('has a POSIX class, which is not supported', pos - 1);
        const cp = pattern.codePointAt(pos - 1)!;
        if (cp > 0xffff) pos++;
        return cp;
      };
      const lo = readOne();
      if (typeof lo !== 'number') { r.push(...lo); continue; }
      if (pattern[pos] === '-' && pos + 1 < end && pattern[pos + 1] !== ']') {
        pos++;
        const hi = readOne();
        if (typeof hi !== 'number' || hi < lo) fail('has a bad range in a class', at);
        r.push(lo, hi as number);
      } else r.push(lo, lo);
    }
    if (pattern[pos] !== ']') fail('has an unterminated class', at);
    pos++;
    return negated ? complement(r) : r;
  };

  const alternation = (depth: number): string => {
    const alts = [sequence(depth)];
    while (pattern[pos] === '|') {
      pos++;
      alts.push(sequence(depth));
    }
    return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
  };

  const sequence = (depth: number): string => {
    const items: string[] = [];
    while (pos < end && pattern[pos] !== '|' && pattern[pos] !== ')') {
      const at = pos;
      const c = pattern[pos++];
      let item: string;
      if (c === '(') {
        if (depth >= MAX_NESTING) fail(`nests groups deeper than ${MAX_NESTING}`, at);
        if (pattern[pos] === '?') {
          if (pattern[pos + 1] === ':') pos += 2;
          else if (pattern[pos + 1] === '<' && pattern[pos + 2] !== '=' && pattern[pos + 2] !== '!') {
            const close = pattern.indexOf('>', pos);
            if (close < 0) fail('has an unterminated group name', at);
            pos = close + 1;
          } else fail('has a lookaround or a group flag, which is not supported', at);
        }
        const inner = alternation(depth + 1);
        if (pattern[pos] !== ')') fail('has an unclosed group', at);
        pos++;
        item = `(${inner || '""'})`;
      } else if (c === '[') {
        item = jsonCharsExpr(classBody(at)) || fail('has a class that no JSON string character matches', at);
      } else if (c === '.') {
        item = jsonCharsExpr(complement([10, 10, 13, 13, 0x2028, 0x2029]));
      } else if (c === '\\') {
        const e = pattern[pos++];
        if (e === undefined) fail('ends inside an escape', at);
        const x = escapeClass(e, at);
        item = jsonCharsExpr(typeof x === 'number' ? [x, x] : x) || fail('has an escape no JSON string character matches', at);
      } else if (c === '^' || c === '$') {
        return fail(`has an anchor ${c} that is not at an end, which is not supported`, at);
      } else if (c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(at, end)))) {
        return fail('has a quantifier with nothing before it', at);
      } else {
        const cp = pattern.codePointAt(at)!;
        if (cp > 0xffff) pos++;
        item = jsonCharsExpr([cp, cp]) || fail('has a character a JSON string cannot hold', at);
      }
      // quantifiers
      const q = pattern[pos];
      if (q === '*' || q === '+' || q === '?') {
        pos++;
        item += q;
      } else if (q === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(pos, end));
        if (m) {
          const min = Number(m[1]);
          const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
          if (min > MAX_REPEAT || max > MAX_REPEAT) fail(`repeats more than ${MAX_REPEAT} times`, pos);
          if (max !== -1 && max < min) fail('has a repetition whose maximum is below its minimum', pos);
          pos += m[0].length;
          item += max === min ? `{${min}}` : max === -1 ? `{${min},}` : `{${min},${max}}`;
        }
      }
      if (pattern[pos] === '?' && /[*+?}]$/.test(item)) pos++; // lazy: the same strings
      if (/[*+?}]/.test(pattern[pos] ?? '') && pattern[pos] !== '}') fail('has a repeated quantifier', pos);
      items.push(item);
    }
    return items.join(' ');
  };

  const body = alternation(0);
  if (pos !== end) fail(pattern[pos] === ')' ? 'has an unmatched )' : 'could not be read', pos);
  const free = `${jsonCharsExpr(anyChar)}*`;
  return [anchoredStart ? '' : free, body ? `(${body})` : '', anchoredEnd ? '' : free].filter(Boolean).join(' ') || '""';
}
