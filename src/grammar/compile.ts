// A grammar's rules lowered to a flat program over bytes, what the recognizer runs.
//
// Every rule becomes a list of alternatives, each a run of elements ending in END: BYTES (one byte out
// of a 256-bit set) or REF (another rule). Literals and character classes become bytes of UTF-8 (a class
// with characters past ASCII becomes a helper rule of UTF-8 byte-range sequences), groups and
// repetitions become helper rules: x* is `r ::= x r | ""` (right recursion, which the recognizer runs
// in constant stack depth), x{2,4} is x x (x (x)?)?. Left recursion (which a recognizer of this kind
// would follow forever) is refused, naming the rule.
import { grammarError, type Expr, type GrammarRules } from './gbnf.js';

export const END = 0;
export const BYTES = 1;
export const REF = 2;

/** Most elements of a lowered grammar (a bound on what a grammar or schema can make us build). */
export const MAX_PROGRAM = 1 << 19;

export interface Program {
  /** END, BYTES or REF per position. */
  kind: Uint8Array;
  /** BYTES: the set's index; REF: the rule's index. */
  arg: Int32Array;
  /** 8 words (256 bits) per byte set. */
  sets: Uint32Array;
  /** The first position of each alternative, per rule. Position 0 is `REF root, END`, the start. */
  alts: Int32Array[];
  /** Rule names (helper rules: the rule they belong to, with a suffix). */
  names: string[];
}

type Atom = number; // >= 0: a byte set index (BYTES); < 0: -(rule index) - 1 (REF)

/** UTF-8 byte-range sequences for the code points lo..hi (no surrogates inside): a known construction. */
function utf8Sequences(lo: number, hi: number, out: number[][]): void {
  for (const b of [0x7f, 0x7ff, 0xffff]) {
    if (lo <= b && b < hi) {
      utf8Sequences(lo, b, out);
      utf8Sequences(b + 1, hi, out);
      return;
    }
  }
  if (hi <= 0x7f) {
    out.push([lo, hi]);
    return;
  }
  const n = hi <= 0x7ff ? 2 : hi <= 0xffff ? 3 : 4;
  for (let i = 1; i < n; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((lo & ~m) !== (hi & ~m)) {
      if ((lo & m) !== 0) {
        utf8Sequences(lo, lo | m, out);
        utf8Sequences((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) !== m) {
        utf8Sequences(lo, (hi & ~m) - 1, out);
        utf8Sequences(hi & ~m, hi, out);
        return;
      }
    }
  }
  const a = utf8(lo);
  const b = utf8(hi);
  const seq: number[] = [];
  for (let i = 0; i < a.length; i++) seq.push(a[i], b[i]);
  out.push(seq);
}

function utf8(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}

/** Sorted, merged code point ranges of a class, negation applied, surrogates left out. */
function normalizeRanges(ranges: number[], negated: boolean): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i], ranges[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  let merged: [number, number][] = [];
  for (const p of pairs) {
    const last = merged.at(-1);
    if (last && p[0] <= last[1] + 1) last[1] = Math.max(last[1], p[1]);
    else merged.push([p[0], p[1]]);
  }
  if (negated) {
    const out: [number, number][] = [];
    let next = 0;
    for (const [lo, hi] of merged) {
      if (lo > next) out.push([next, lo - 1]);
      next = hi + 1;
    }
    if (next <= 0x10ffff) out.push([next, 0x10ffff]);
    merged = out;
  }
  const flat: number[] = [];
  for (const [lo, hi] of merged) {
    // cut out the surrogates, which UTF-8 cannot encode
    if (hi < 0xd800 || lo > 0xdfff) flat.push(lo, hi);
    else {
      if (lo < 0xd800) flat.push(lo, 0xd7ff);
      if (hi > 0xdfff) flat.push(0xe000, hi);
    }
  }
  return flat;
}

export function compileRules(g: GrammarRules): Program {
  const ruleIndex = new Map<string, number>();
  const names: string[] = [];
  const bodies: Atom[][][] = []; // per rule: alternatives of atoms
  const setWords: number[] = [];
  const setIndex = new Map<string, number>();
  const classRules = new Map<string, number>();
  let size = 2;
  for (const name of g.rules.keys()) {
    ruleIndex.set(name, names.length);
    names.push(name);
    bodies.push([]);
  }
  const grow = (n: number, owner: string) => {
    size += n;
    if (size > MAX_PROGRAM) throw grammarError(`the grammar grows past ${MAX_PROGRAM} elements in the rule ${JSON.stringify(owner)} (repetitions, enums or patterns too large)`);
  };
  const byteSet = (lo: number, hi: number, extra?: number[]): number => {
    const words = new Array<number>(8).fill(0);
    const add = (a: number, b: number) => { for (let x = a; x <= b; x++) words[x >> 5] |= 1 << (x & 31); };
    add(lo, hi);
    if (extra) for (let i = 0; i < extra.length; i += 2) add(extra[i], extra[i + 1]);
    const key = words.join(',');
    let i = setIndex.get(key);
    if (i === undefined) {
      i = setIndex.size;
      setIndex.set(key, i);
      for (const w of words) setWords.push(w >>> 0);
    }
    return i;
  };
  const helper = (owner: string, alts: Atom[][]): Atom => {
    const i = names.length;
    names.push(`${owner}-${i}`);
    bodies.push(alts);
    for (const a of alts) grow(a.length + 1, owner);
    return -i - 1;
  };

  const charClass = (ranges: number[], negated: boolean, owner: string): Atom[] => {
    const flat = normalizeRanges(ranges, negated);
    const ascii: number[] = [];
    const seqs: number[][] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const lo = flat[i], hi = flat[i + 1];
      if (lo <= 0x7f) ascii.push(lo, Math.min(hi, 0x7f));
      if (hi > 0x7f) utf8Sequences(Math.max(lo, 0x80), hi, seqs);
    }
    if (!ascii.length && !seqs.length) throw grammarError(`the rule ${JSON.stringify(owner)} has a character class that matches nothing`);
    if (!seqs.length) return [byteSet(ascii[0], ascii[1], ascii.slice(2))];
    const key = flat.join(',');
    let r = classRules.get(key);
    if (r === undefined) {
      const alts: Atom[][] = [];
      if (ascii.length) alts.push([byteSet(ascii[0], ascii[1], ascii.slice(2))]);
      for (const s of seqs) {
        const alt: Atom[] = [];
        for (let i = 0; i < s.length; i += 2) alt.push(byteSet(s[i], s[i + 1]));
        alts.push(alt);
      }
      r = helper(owner, alts);
      classRules.set(key, r);
    }
    return [r];
  };

  const lowerAlts = (e: Expr, owner: string): Atom[][] => {
    if (e.k === 'alt') return e.alts.flatMap((a) => lowerAlts(a, owner));
    const out: Atom[] = [];
    lowerSeq(e, owner, out);
    return [out];
  };
  const lowerSeq = (e: Expr, owner: string, out: Atom[]): void => {
    switch (e.k) {
      case 'seq':
        for (const item of e.items) lowerSeq(item, owner, out);
        return;
      case 'lit': {
        const bytes = new TextEncoder().encode(e.text);
        grow(bytes.length, owner);
        for (const b of bytes) out.push(byteSet(b, b));
        return;
      }
      case 'chars':
        grow(1, owner);
        out.push(...charClass(e.ranges, e.negated, owner));
        return;
      case 'ref': {
        const r = ruleIndex.get(e.name);
        if (r === undefined) throw grammarError(`the rule ${JSON.stringify(e.name)} is used at ${g.location(e.at)} but never defined`);
        grow(1, owner);
        out.push(-r - 1);
        return;
      }
      case 'alt':
        grow(1, owner);
        out.push(helper(owner, lowerAlts(e, owner)));
        return;
      case 'rep': {
        // the repeated part as one atom: itself when it is one, else a helper rule
        const body = lowerAlts(e.e, owner);
        const one: Atom = body.length === 1 && body[0].length === 1 ? body[0][0] : helper(owner, body);
        grow(e.min, owner);
        for (let i = 0; i < e.min; i++) out.push(one);
        if (e.max === -1) {
          const star = names.length;
          helper(owner, [[one, -star - 1], []]);
          out.push(-star - 1);
        } else if (e.max > e.min) {
          let opt = helper(owner, [[one], []]);
          for (let i = e.min + 1; i < e.max; i++) opt = helper(owner, [[one, opt], []]);
          out.push(opt);
        }
        grow(1, owner);
        return;
      }
    }
  };

  for (const [name, e] of g.rules) {
    const alts = lowerAlts(e, name);
    for (const a of alts) grow(a.length + 1, name);
    bodies[ruleIndex.get(name)!] = alts;
  }
  checkLeftRecursion(bodies, names, g);

  // flatten: position 0-1 is the start (REF root, END), then every alternative of every rule
  const kind = new Uint8Array(size);
  const arg = new Int32Array(size);
  kind[0] = REF;
  arg[0] = ruleIndex.get('root')!;
  kind[1] = END;
  let p = 2;
  const alts: Int32Array[] = [];
  for (const body of bodies) {
    const starts = new Int32Array(body.length);
    body.forEach((atoms, j) => {
      starts[j] = p;
      for (const a of atoms) {
        if (a >= 0) { kind[p] = BYTES; arg[p] = a; } else { kind[p] = REF; arg[p] = -a - 1; }
        p++;
      }
      kind[p++] = END;
    });
    alts.push(starts);
  }
  return { kind: kind.subarray(0, p), arg: arg.subarray(0, p), sets: Uint32Array.from(setWords), alts, names };
}

/** Refuse a rule that can reach itself before reading a byte (directly, or through rules that match ""). */
function checkLeftRecursion(bodies: Atom[][][], names: string[], g: GrammarRules): void {
  const nullable = new Uint8Array(bodies.length);
  for (let changed = true; changed; ) {
    changed = false;
    bodies.forEach((alts, r) => {
      if (nullable[r]) return;
      if (alts.some((a) => a.every((x) => x < 0 && nullable[-x - 1]))) { nullable[r] = 1; changed = true; }
    });
  }
  // 0 unvisited, 1 on the path, 2 done; an explicit stack, as a grammar may chain many rules
  const state = new Uint8Array(bodies.length);
  const firsts = (r: number): number[] => {
    const out: number[] = [];
    for (const a of bodies[r]) {
      for (const x of a) {
        if (x >= 0) break;
        out.push(-x - 1);
        if (!nullable[-x - 1]) break;
      }
    }
    return out;
  };
  const owner = (r: number) => {
    const n = names[r];
    const base = g.rules.has(n) ? n : n.replace(/-\d+$/, '');
    return `${JSON.stringify(base)} (defined at ${g.location(g.where.get(base) ?? 0)})`;
  };
  for (let start = 0; start < bodies.length; start++) {
    if (state[start]) continue;
    const stack: { r: number; next: number[]; i: number }[] = [{ r: start, next: firsts(start), i: 0 }];
    state[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.i === top.next.length) {
        state[top.r] = 2;
        stack.pop();
        continue;
      }
      const r = top.next[top.i++];
      if (state[r] === 1) throw grammarError(`left recursion: the rule ${owner(r)} can reach itself before matching a character (write it with a repetition, e.g. x ::= y ("op" y)*)`);
      if (state[r] === 0) {
        state[r] = 1;
        stack.push({ r, next: firsts(r), i: 0 });
      }
    }
  }
}
