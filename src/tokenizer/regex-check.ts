// tokenizer.json may hold regular expressions (`{"Regex": "..."}` in Split, Replace, ...), which the
// tokenizer library rewrites (Oniguruma syntax to JavaScript) and runs as JavaScript RegExps: a
// backtracking engine, where a pattern like `(a+)+$` takes exponential time on a short input such as
// "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab". A model file from the internet could use that to hang the page or
// worker that tokenizes a prompt.
//
// This is a cheap syntactic screen for the shapes that blow up, not a proof (SECURITY.md). It refuses:
//   - a group repeated without bound (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that holds an unbounded
//     quantifier (`(a+)+`, star height 2) or an alternation (`(a|a)*`, overlapping alternatives);
//   - a quantifier applied to a quantifier (`a{1,2}+`, `a*+`): the library rewrites it to a
//     repeated group, `(?:a{1,2})+`;
//   - a group repeated more than once (`{n}` included) that holds an optional part (`(\w?){24}\w{24}`,
//     `(a?a)+`: each repetition matches in two ways, 2^n ways in all), but for an optional single character
//     followed by another, different one (`(?:\r?\n)+`: one way only);
//   - more than MAX_UNBOUNDED_PER_BRANCH unbounded quantifiers in one alternative (`a*a*a*a*$`:
//     polynomial backtracking whose degree is their number), or more than MAX_OPTIONAL_PER_BRANCH optional
//     parts (`\w?` written out 24 times is `(\w?){24}`);
//   - backreferences (`\1`, `\k<name>`), which no tokenizer needs.
// `{,n}` is read as `{0,n}` and bounds may have any number of digits, as the library reads them.
// The loader screens both the pattern in the file and the RegExps the library compiled from it
// (tokenizer/index.ts), so a shape the rewrite creates is caught too. Every pattern of the common
// tokenizers (GPT-2, GPT-NeoX, LLaMA-3, tiktoken's cl100k / o200k, Qwen) passes, before and after
// the rewrite.

/** Unbounded quantifiers allowed in one alternative of a pattern (the common tokenizers have at most 2). */
export const MAX_UNBOUNDED_PER_BRANCH = 2;

/** Optional parts (`x?`) allowed in one alternative, the guarded `\r?\n` kind aside (the common tokenizers have at most 2). */
export const MAX_OPTIONAL_PER_BRANCH = 6;

const BOUNDS = /\{(\d*)(,(\d*))?\}/y;

/**
 * Length of the quantifier at `i`, whether it may repeat (more than once: `unbounded`, the screen's old
 * word for it) and whether it is an optional (`?`, `{0,1}`: zero or one), or null if none.
 */
function quantifierAt(p: string, i: number): { length: number; unbounded: boolean; optional: boolean } | null {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true, optional: false };
  if (c === '?') return { length: 1, unbounded: false, optional: true };
  if (c !== '{') return null;
  BOUNDS.lastIndex = i;
  const m = BOUNDS.exec(p);
  if (!m || (m[1] === '' && (m[3] ?? '') === '')) return null; // `{`, `{}`, `{,}`: literal braces
  const min = Number(m[1] || '0');
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { length: m[0].length, unbounded: max > 1, optional: min === 0 && max === 1 };
}

const SPECIAL = '.^$|()[]{}*+?\\';

const CONTROL_ESCAPES: Record<string, string> = { r: '\r', n: '\n', t: '\t', f: '\f', v: '\v' };

/**
 * The atom at `i` if it matches exactly one character: its text, where it ends, and the character when
 * it is a literal one (`a`, `\r`, `\.`); null for anything else (a group, an anchor, `\b`, ...).
 */
function oneCharAt(p: string, i: number): { source: string; end: number; char: string | null } | null {
  const c = p[i];
  if (c === undefined) return null;
  if (c === '[') {
    let depth = 0;
    for (let j = i; j < p.length; j++) {
      if (p[j] === '\\') j++;
      else if (p[j] === '[') depth++;
      else if (p[j] === ']' && --depth === 0) return { source: p.slice(i, j + 1), end: j, char: null };
    }
    return null;
  }
  if (c === '.') return { source: '.', end: i, char: null };
  if (c !== '\\') return SPECIAL.includes(c) ? null : { source: c, end: i, char: c };
  const n = p[i + 1];
  if (n === undefined) return null;
  if (n in CONTROL_ESCAPES) return { source: p.slice(i, i + 2), end: i + 1, char: CONTROL_ESCAPES[n] };
  if ('dDwWsS'.includes(n)) return { source: p.slice(i, i + 2), end: i + 1, char: null };
  if ('pP'.includes(n) && p[i + 2] === '{') {
    const close = p.indexOf('}', i);
    return close < 0 ? null : { source: p.slice(i, close + 1), end: close, char: null };
  }
  return /[0-9A-Za-z]/.test(n) ? null : { source: p.slice(i, i + 2), end: i + 1, char: n }; // an escaped punctuation mark is itself
}

/** Could the one-character atom `source` match `char`, in either case? (If it cannot be compiled alone: assume it could.) */
function couldMatch(source: string, char: string): boolean {
  try {
    const re = new RegExp(`^(?:${source})$`, 'u');
    return re.test(char) || re.test(char.toLowerCase()) || re.test(char.toUpperCase());
  } catch {
    return true;
  }
}

interface Group {
  /** Does it hold an unbounded quantifier (at any depth)? */
  unbounded: boolean;
  /** Does it hold an alternation (at any depth)? */
  alternation: boolean;
  /** Unbounded quantifiers along the current alternative of this group (its inner groups' worst alternative included). */
  branch: number;
  /** The most along any alternative closed so far. */
  worst: number;
  /** Does it hold an optional part (at any depth), the guarded kind aside? */
  optional: boolean;
  /** Optional parts along the current alternative, and the most along any closed one. */
  optionalBranch: number;
  optionalWorst: number;
  /** The literal character just made optional (`\r` of `\r?`), until the next atom says whether it is guarded. */
  pending: string | null;
}

const tooMany = (at: number) => `more than ${MAX_UNBOUNDED_PER_BRANCH} unbounded quantifiers in one alternative, at offset ${at}`;
const tooManyOptional = (at: number) => `more than ${MAX_OPTIONAL_PER_BRANCH} optional parts in one alternative, at offset ${at}`;

/** Why a pattern could backtrack catastrophically (the first shape found), or null if it passes the screen. */
export function nestedQuantifier(p: string): string | null {
  const fresh = (): Group => ({ unbounded: false, alternation: false, branch: 0, worst: 0, optional: false, optionalBranch: 0, optionalWorst: 0, pending: null });
  const groups: Group[] = [fresh()]; // [0]: the whole pattern
  let closed: Group | null = null; // the group that just closed, if the previous token was ')'
  let quantified = false; // the previous token was a quantifier
  let literal: string | null = null; // the character the previous atom is, if it was a literal one
  /** `g` holds one more optional part (false: too many in one alternative). */
  const addOptional = (g: Group): boolean => {
    g.optional = true;
    return ++g.optionalBranch <= MAX_OPTIONAL_PER_BRANCH;
  };
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    const lastClosed = closed;
    const afterQuantifier = quantified;
    const lastLiteral = literal;
    closed = null;
    quantified = false;
    literal = null;
    const quantifier = quantifierAt(p, i);
    const current = groups[groups.length - 1];
    if (current.pending !== null && quantifier === null) {
      // a new atom (or the end of the group or alternative) after `x?`: guarded only by one character that
      // cannot be x and is not itself quantified (`\r?\n`, `-?\d`; not `a?a`, `\r?\s`, `\r?\n+`, `a?.`)
      const next = c === ')' || c === '|' ? null : oneCharAt(p, i);
      const guarded = next !== null && quantifierAt(p, next.end + 1) === null && !couldMatch(next.source, current.pending);
      current.pending = null;
      if (!guarded && !addOptional(current)) return tooManyOptional(i);
    }
    if (c === '\\') {
      literal = oneCharAt(p, i)?.char ?? null;
      const n = p[i + 1];
      if ((n >= '1' && n <= '9') || n === 'k') return `a backreference at offset ${i}`;
      // an escape: \p{...}, \P{...}, \u{...} and \x{...} run to the closing brace; others are one character
      if ('pPux'.includes(n) && p[i + 2] === '{') i = Math.max(i + 1, p.indexOf('}', i));
      else i++;
      continue;
    }
    if (c === '[') {
      // a character class (nested classes included): skip to its closing bracket, past escapes
      let depth = 0;
      for (; i < p.length; i++) {
        if (p[i] === '\\') i++;
        else if (p[i] === '[') depth++;
        else if (p[i] === ']' && --depth === 0) break;
      }
      continue;
    }
    if (c === '(') {
      groups.push(fresh());
      if (p[i + 1] === '?') i++; // (?:, (?=, (?<name>, (?i: ... : the '?' is not a quantifier
      continue;
    }
    if (c === ')') {
      if (groups.length === 1) continue; // an unmatched ')': the RegExp constructor refuses it
      const inner = groups.pop()!;
      const outer = groups[groups.length - 1];
      outer.unbounded ||= inner.unbounded;
      outer.alternation ||= inner.alternation;
      outer.optional ||= inner.optional;
      outer.branch += Math.max(inner.worst, inner.branch);
      if (outer.branch > MAX_UNBOUNDED_PER_BRANCH) return tooMany(i);
      outer.optionalBranch += Math.max(inner.optionalWorst, inner.optionalBranch);
      if (outer.optionalBranch > MAX_OPTIONAL_PER_BRANCH) return tooManyOptional(i);
      closed = inner;
      continue;
    }
    if (c === '|') {
      const g = groups[groups.length - 1];
      g.alternation = true;
      g.worst = Math.max(g.worst, g.branch);
      g.branch = 0;
      g.optionalWorst = Math.max(g.optionalWorst, g.optionalBranch);
      g.optionalBranch = 0;
      continue;
    }
    const q = quantifier;
    if (!q) {
      if (!SPECIAL.includes(c)) literal = c;
      continue;
    }
    if (afterQuantifier && !(c === '?' && !q.unbounded)) return `a quantifier applied to a quantifier at offset ${i}`;
    if (q.unbounded && lastClosed?.unbounded) return `a repeated group holds a repeated part before offset ${i}`;
    if (q.unbounded && lastClosed?.alternation) return `a repeated group holds alternatives before offset ${i}`;
    if (q.unbounded && lastClosed?.optional) return `a repeated group holds an optional part before offset ${i}`;
    if (q.optional && !afterQuantifier) {
      // `x?`: a single character waits for the next atom to tell whether it is guarded; anything else counts now
      if (lastClosed === null && lastLiteral !== null) current.pending = lastLiteral;
      else if (!addOptional(current)) return tooManyOptional(i);
    }
    if (q.unbounded) {
      const g = groups[groups.length - 1];
      g.unbounded = true;
      if (++g.branch > MAX_UNBOUNDED_PER_BRANCH) return tooMany(i);
    }
    i += q.length - 1;
    if (p[i + 1] === '?') i++; // lazy marker
    quantified = true;
  }
  return null;
}

/** Every `{"Regex": pattern}` string in a parsed tokenizer.json (walked without recursion). */
export function regexPatterns(doc: unknown): string[] {
  const out: string[] = [];
  const todo: unknown[] = [doc];
  while (todo.length > 0) {
    const node = todo.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Regex' && typeof value === 'string') out.push(value);
      else todo.push(value);
    }
  }
  return out;
}

/**
 * Every RegExp held by the objects reachable from `roots` (the library's normalizer, pre-tokenizer and
 * decoder), walked without recursion: the patterns as the library will run them, after its rewrites.
 */
export function compiledPatterns(roots: unknown[]): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const todo = roots.slice();
  while (todo.length > 0) {
    const node = todo.pop();
    if ((typeof node !== 'object' && typeof node !== 'function') || node === null || seen.has(node)) continue;
    seen.add(node);
    if (node instanceof RegExp) {
      out.push(node.source);
      continue;
    }
    for (const key of Object.keys(node)) todo.push((node as Record<string, unknown>)[key]);
  }
  return out;
}
