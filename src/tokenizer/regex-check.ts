// tokenizer.json may hold regular expressions (`{"Regex": "..."}` in Split, Replace, ...), which the
// tokenizer library runs as JavaScript RegExps: a backtracking engine, where a pattern like `(a+)+$`
// takes exponential time on a short input such as "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab". A model file
// from the internet could use that to hang the page or worker that tokenizes a prompt.
//
// This check refuses the classic shape of such patterns: a group repeated without bound (`*`, `+`,
// `{n,}`, `{n,m}` with m > 1) that itself holds an unbounded quantifier ("nested quantifiers", star
// height 2). It is a cheap syntactic screen, not a proof: overlapping alternatives such as `(a|a)*`
// still pass (SECURITY.md). Every pattern of the common tokenizers (GPT-2, GPT-NeoX, LLaMA-3,
// tiktoken's cl100k / o200k, Qwen) passes it.

/** Length of the quantifier at `i` and whether it repeats without a small bound, or null if none. */
function quantifierAt(p: string, i: number): { length: number; unbounded: boolean } | null {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true };
  if (c === '?') return { length: 1, unbounded: false };
  if (c !== '{') return null;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
  if (!m) return null;
  const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
  return { length: m[0].length, unbounded: max > 1 };
}

/** Where a pattern nests an unbounded quantifier inside an unbounded repeated group, or null if it does not. */
export function nestedQuantifier(p: string): string | null {
  const groups: boolean[] = []; // per open group: does it hold an unbounded quantifier?
  let closed: boolean | null = null; // the group that just closed, if the previous token was ')'
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    const lastClosed = closed;
    closed = null;
    if (c === '\\') {
      // an escape: \p{...}, \P{...} and \u{...} run to the closing brace; others are one character
      if ('pPu'.includes(p[i + 1]) && p[i + 2] === '{') i = Math.max(i + 1, p.indexOf('}', i));
      else i++;
      continue;
    }
    if (c === '[') {
      // a character class: skip to its closing bracket, past escapes
      for (i++; i < p.length && p[i] !== ']'; i++) if (p[i] === '\\') i++;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      if (p[i + 1] === '?') i++; // (?:, (?=, (?<name>, (?i: ... : the '?' is not a quantifier
      continue;
    }
    if (c === ')') {
      const inner = groups.pop() ?? false;
      if (groups.length > 0) groups[groups.length - 1] ||= inner;
      closed = inner;
      continue;
    }
    const q = quantifierAt(p, i);
    if (!q) continue;
    if (q.unbounded && lastClosed) return `a repeated group holds a repeated part before offset ${i}`;
    if (q.unbounded && groups.length > 0) groups[groups.length - 1] = true;
    i += q.length - 1;
    if (p[i + 1] === '?' || p[i + 1] === '+') i++; // lazy or possessive marker
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
