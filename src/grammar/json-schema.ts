// A JSON Schema as a GBNF grammar whose sentences are JSON texts the schema accepts (the approach of
// llama.cpp's json-schema-to-grammar: one rule per schema, shared rules for the JSON primitives).
//
// Supported: type (one or a list), enum, const, nullable; objects with properties, required and
// additionalProperties (false, or absent: only the listed properties are written; true or a schema only
// without listed properties); arrays with items, prefixItems, minItems, maxItems; strings with minLength,
// maxLength, pattern (regex.ts), format date, time, date-time, uuid; integers with minimum, maximum,
// exclusiveMinimum, exclusiveMaximum; numbers with integral minimum and maximum; anyOf, oneOf (oneOf's
// branches are not made exclusive: give it disjoint ones); $ref to #/$defs/... or #/definitions/...;
// annotations (title, description, default, examples, ...) are ignored. Any other keyword is refused,
// naming it and where it is (a JSON pointer), never silently dropped.
//
// Properties come in the schema's order, each optional one may be left out. Whitespace between tokens
// is at most one space or a newline with a short indent, and nothing follows the top value, so the
// grammar is complete right after it.
import { BimambaError } from '../errors.js';
import { MAX_NESTING, MAX_REPEAT } from './gbnf.js';
import { patternToGbnf } from './regex.js';

/** Most values of one enum. */
export const MAX_ENUM = 4096;
/** Most subschemas (a bound on the work a schema can ask for). */
export const MAX_SUBSCHEMAS = 10000;

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$anchor']);
const SUPPORTED = new Set([
  'type', 'enum', 'const', 'nullable', 'properties', 'required', 'additionalProperties', 'items', 'prefixItems',
  'minItems', 'maxItems', 'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions',
]);
const TYPES = ['string', 'number', 'integer', 'boolean', 'null', 'object', 'array'];

const PRIMITIVES: Record<string, string> = {
  space: '| " " | "\\n" [ ]{0,16}',
  char: '[^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})',
  string: '"\\"" char* "\\""',
  'int-part': '[0-9] | [1-9] [0-9]{1,15}',
  integer: '"-"? int-part',
  number: '"-"? int-part ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,2})?',
  boolean: '"true" | "false"',
  null: '"null"',
  value: 'object | array | string | number | boolean | null',
  object: '"{" space (string ":" space value ("," space string ":" space value)*)? "}"',
  array: '"[" space (value ("," space value)*)? "]"',
  'digit-2': '[0-9]{2}',
  date: '[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])',
  time: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])',
  uuid: '[0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12}',
};
const PRIMITIVE_DEPS: Record<string, string[]> = {
  string: ['char'], integer: ['int-part'], number: ['int-part'],
  value: ['object', 'array', 'string', 'number', 'boolean', 'null'],
  object: ['space', 'string', 'value'], array: ['space', 'value'],
};
const FORMATS: Record<string, string> = {
  date: 'date', time: 'time', 'date-time': 'date "T" time', uuid: 'uuid',
};

const pointerPart = (s: string | number) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');
/** A GBNF literal for `text` (JSON text, so plain printable characters and escapes). */
const literal = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/[\u0000-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;

function unsupported(pointer: string, what: string): BimambaError {
  return new BimambaError('UNSUPPORTED', `json schema: ${what} at ${pointer || '#'}`);
}
function invalid(pointer: string, what: string): BimambaError {
  return new BimambaError('BAD_ARGUMENT', `json schema: ${what} at ${pointer || '#'}`);
}

/** Decimal strings (no leading zeros) of the integers lo..hi, lo <= hi, both >= 0, as GBNF. */
function naturalRange(lo: number, hi: number): string {
  const alts: string[] = [];
  for (let len = String(lo).length; len <= String(hi).length; len++) {
    const a = Math.max(lo, len === 1 ? 0 : 10 ** (len - 1));
    const b = Math.min(hi, 10 ** len - 1);
    if (a <= b) alts.push(sameLength(String(a), String(b)));
  }
  return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
}

/** Digit strings of one length from lo to hi (inclusive). */
function sameLength(lo: string, hi: string): string {
  if (lo.length === 0) return '""';
  if (lo === hi) return `"${lo}"`;
  if (lo[0] === hi[0]) return `"${lo[0]}" ${sameLength(lo.slice(1), hi.slice(1))}`;
  const rest = lo.length - 1;
  const anyRest = rest ? ` [0-9]{${rest}}` : '';
  const alts: string[] = [];
  const lo0 = Number(lo[0]);
  const hi0 = Number(hi[0]);
  let from = lo0;
  let to = hi0;
  if (rest && !/^0*$/.test(lo.slice(1))) {
    alts.push(`"${lo[0]}" ${sameLength(lo.slice(1), '9'.repeat(rest))}`);
    from++;
  }
  const hiPart = rest && !/^9*$/.test(hi.slice(1));
  if (hiPart) to--;
  if (from <= to) alts.push(`${from === to ? `"${from}"` : `[${from}-${to}]`}${anyRest}`);
  if (hiPart) alts.push(`"${hi[0]}" ${sameLength('0'.repeat(rest), hi.slice(1))}`);
  return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
}

const MAX_DIGITS = 15;
const MAX_INT = 10 ** MAX_DIGITS - 1;

/** Integers in [lo, hi] (either may be infinite), as GBNF. */
function integerRange(lo: number, hi: number): string {
  const alts: string[] = [];
  const natural = (a: number, b: number) => (b === Infinity ? (a > MAX_INT ? null : `(${naturalRange(a, MAX_INT)})`) : naturalRange(a, b));
  if (hi >= 0) {
    const n = natural(Math.max(lo, 0), hi);
    if (n) alts.push(n);
  }
  if (lo < 0) {
    const n = natural(Math.max(1, -hi), -lo);
    if (n) alts.push(`"-" ${n}`);
  }
  return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
}

export function jsonSchemaToGbnf(schema: unknown): string {
  const rules = new Map<string, string>();
  const used = new Set<string>();
  const refRules = new Map<string, string>();
  let subschemas = 0;

  const usePrimitive = (name: string): string => {
    if (!used.has(name)) {
      used.add(name);
      for (const d of PRIMITIVE_DEPS[name] ?? []) usePrimitive(d);
    }
    return name;
  };
  const ruleName = (pointer: string) => {
    const base = (pointer.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'root').slice(0, 48);
    let name = `s-${base}`;
    for (let i = 2; rules.has(name); i++) name = `s-${base}-${i}`;
    return name;
  };
  const addRule = (pointer: string, body: string): string => {
    const name = ruleName(pointer);
    rules.set(name, body);
    return name;
  };

  const resolve = (ref: string, pointer: string): { schema: unknown; pointer: string } => {
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
    if (!m) throw unsupported(pointer, `the $ref ${JSON.stringify(ref)} (only #/$defs/NAME and #/definitions/NAME are supported)`);
    const defs = (schema as Record<string, unknown>)?.[m[1]] as Record<string, unknown> | undefined;
    const key = m[2].replace(/~1/g, '/').replace(/~0/g, '~');
    if (!defs || typeof defs !== 'object' || !Object.hasOwn(defs, key)) throw invalid(pointer, `the $ref ${JSON.stringify(ref)} points at nothing`);
    return { schema: defs[key], pointer: `#/${m[1]}/${m[2]}` };
  };

  const visit = (s: unknown, pointer: string, depth: number): string => {
    if (++subschemas > MAX_SUBSCHEMAS) throw unsupported(pointer, `more than ${MAX_SUBSCHEMAS} subschemas`);
    if (depth > MAX_NESTING) throw unsupported(pointer, `schemas nested deeper than ${MAX_NESTING}`);
    if (s === true) return usePrimitive('value');
    if (s === false) throw unsupported(pointer, 'the schema false (which nothing matches)');
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw invalid(pointer, 'a schema must be an object or a boolean');
    const o = s as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!SUPPORTED.has(key) && !ANNOTATIONS.has(key)) throw unsupported(`${pointer}/${pointerPart(key)}`, `the keyword ${JSON.stringify(key)} is not supported`);
    }
    const here = (k: string) => `${pointer}/${pointerPart(k)}`;

    if (o.$ref !== undefined) {
      if (typeof o.$ref !== 'string') throw invalid(here('$ref'), '$ref must be a string');
      for (const key of Object.keys(o)) {
        if (key !== '$ref' && key !== '$defs' && key !== 'definitions' && !ANNOTATIONS.has(key)) throw unsupported(here(key), `the keyword ${JSON.stringify(key)} beside $ref`);
      }
      let name = refRules.get(o.$ref);
      if (name === undefined) {
        const target = resolve(o.$ref, here('$ref'));
        name = ruleName(target.pointer);
        refRules.set(o.$ref, name);
        rules.set(name, ''); // reserved: a recursive schema refers to itself
        rules.set(name, visit(target.schema, target.pointer, depth + 1));
      }
      return name;
    }

    let body: string;
    const nullable = o.nullable === true;
    if (o.nullable !== undefined && typeof o.nullable !== 'boolean') throw invalid(here('nullable'), 'nullable must be true or false');
    if (o.const !== undefined) {
      body = literal(JSON.stringify(o.const));
    } else if (o.enum !== undefined) {
      if (!Array.isArray(o.enum) || o.enum.length === 0) throw invalid(here('enum'), 'enum must be a non-empty array');
      if (o.enum.length > MAX_ENUM) throw unsupported(here('enum'), `an enum of ${o.enum.length} values (at most ${MAX_ENUM})`);
      body = enumExpr(o.enum.map((v) => JSON.stringify(v)));
    } else if (o.anyOf !== undefined || o.oneOf !== undefined) {
      const key = o.anyOf !== undefined ? 'anyOf' : 'oneOf';
      if (o.anyOf !== undefined && o.oneOf !== undefined) throw unsupported(here('oneOf'), 'anyOf and oneOf together');
      const list = o[key];
      if (!Array.isArray(list) || list.length === 0) throw invalid(here(key), `${key} must be a non-empty array`);
      for (const k of Object.keys(o)) if (k !== key && k !== 'nullable' && k !== '$defs' && k !== 'definitions' && !ANNOTATIONS.has(k)) throw unsupported(here(k), `the keyword ${JSON.stringify(k)} beside ${key}`);
      body = list.map((sub, i) => visit(sub, `${here(key)}/${i}`, depth + 1)).join(' | ');
    } else {
      let types: string[];
      if (o.type === undefined) {
        types = o.properties !== undefined || o.additionalProperties !== undefined ? ['object']
          : o.items !== undefined || o.prefixItems !== undefined ? ['array']
          : o.pattern !== undefined || o.minLength !== undefined || o.maxLength !== undefined || o.format !== undefined ? ['string']
          : o.minimum !== undefined || o.maximum !== undefined ? ['number'] : [];
        if (!types.length) return nullable ? usePrimitive('value') : usePrimitive('value');
      } else {
        types = Array.isArray(o.type) ? (o.type as string[]) : [o.type as string];
        if (!types.length || !types.every((t) => TYPES.includes(t))) throw invalid(here('type'), `type must be one of ${TYPES.join(', ')} or a list of them; got ${JSON.stringify(o.type)}`);
      }
      body = types.map((t) => typed(t, o, pointer, depth)).join(' | ');
    }
    if (nullable) body = `${body} | null`, usePrimitive('null');
    return addRule(pointer, body);
  };

  const count = (o: Record<string, unknown>, key: string, pointer: string): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw invalid(`${pointer}/${key}`, `${key} must be a non-negative integer`);
    if ((v as number) > MAX_REPEAT) throw unsupported(`${pointer}/${key}`, `${key} of ${v} (at most ${MAX_REPEAT})`);
    return v as number;
  };
  const only = (o: Record<string, unknown>, pointer: string, type: string, allowed: string[]) => {
    if (Array.isArray(o.type) && o.type.length > 1) return; // the other types' keywords are theirs
    const common = ['type', 'nullable', '$defs', 'definitions'];
    for (const k of Object.keys(o)) {
      if (!ANNOTATIONS.has(k) && !common.includes(k) && !allowed.includes(k)) throw unsupported(`${pointer}/${pointerPart(k)}`, `the keyword ${JSON.stringify(k)} on a schema of type ${type}`);
    }
  };

  const typed = (t: string, o: Record<string, unknown>, pointer: string, depth: number): string => {
    const here = (k: string) => `${pointer}/${pointerPart(k)}`;
    switch (t) {
      case 'null':
      case 'boolean':
        return usePrimitive(t);
      case 'string': {
        const min = count(o, 'minLength', pointer);
        const max = count(o, 'maxLength', pointer);
        if (o.pattern !== undefined) {
          if (typeof o.pattern !== 'string') throw invalid(here('pattern'), 'pattern must be a string');
          if (min !== undefined || max !== undefined || o.format !== undefined) throw unsupported(here('pattern'), 'pattern together with minLength, maxLength or format');
          return `"\\"" ${patternToGbnf(o.pattern, here('pattern'))} "\\""`;
        }
        if (o.format !== undefined) {
          const f = FORMATS[o.format as string];
          if (f === undefined) throw unsupported(here('format'), `the format ${JSON.stringify(o.format)} (supported: ${Object.keys(FORMATS).join(', ')})`);
          if (min !== undefined || max !== undefined) throw unsupported(here('format'), 'format together with minLength or maxLength');
          for (const p of f.split(' ').filter((x) => /^[a-z]+$/.test(x))) usePrimitive(p);
          return `"\\"" ${f} "\\""`;
        }
        if (min === undefined && max === undefined) return usePrimitive('string');
        if (max !== undefined && min !== undefined && max < min) throw invalid(pointer, 'maxLength is below minLength');
        usePrimitive('char');
        return `"\\"" char{${min ?? 0},${max ?? ''}} "\\""`;
      }
      case 'integer':
      case 'number': {
        const bound = (k: string): number | undefined => {
          const v = o[k];
          if (v === undefined) return undefined;
          if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(here(k), `${k} must be a number`);
          if (Math.abs(v) > MAX_INT) throw unsupported(here(k), `${k} beyond ±${MAX_INT}`);
          return v;
        };
        let lo = -Infinity;
        let hi = Infinity;
        const min = bound('minimum'), max = bound('maximum'), xmin = bound('exclusiveMinimum'), xmax = bound('exclusiveMaximum');
        if (t === 'integer') {
          if (min !== undefined) lo = Math.max(lo, Math.ceil(min));
          if (xmin !== undefined) lo = Math.max(lo, Math.floor(xmin) + 1);
          if (max !== undefined) hi = Math.min(hi, Math.floor(max));
          if (xmax !== undefined) hi = Math.min(hi, Math.ceil(xmax) - 1);
          if (lo > hi) throw invalid(pointer, 'no integer lies between the bounds');
          if (lo === -Infinity && hi === Infinity) return usePrimitive('integer');
          return integerRange(lo, hi);
        }
        if (xmin !== undefined || xmax !== undefined) throw unsupported(here(xmin !== undefined ? 'exclusiveMinimum' : 'exclusiveMaximum'), 'an exclusive bound on a number (an integer\'s is supported)');
        if (min === undefined && max === undefined) return usePrimitive('number');
        for (const [k, v] of [['minimum', min], ['maximum', max]] as const) {
          if (v !== undefined && !Number.isInteger(v)) throw unsupported(here(k), `a ${k} that is not a whole number on a number`);
        }
        lo = min ?? -Infinity;
        hi = max ?? Infinity;
        if (lo > hi) throw invalid(pointer, 'minimum is above maximum');
        return realRange(lo, hi);
      }
      case 'array': {
        only(o, pointer, t, ['items', 'prefixItems', 'minItems', 'maxItems']);
        usePrimitive('space');
        const prefix = o.prefixItems;
        if (prefix !== undefined && !Array.isArray(prefix)) throw invalid(here('prefixItems'), 'prefixItems must be an array');
        const minItems = count(o, 'minItems', pointer) ?? 0;
        const maxItems = count(o, 'maxItems', pointer);
        if (maxItems !== undefined && maxItems < minItems) throw invalid(pointer, 'maxItems is below minItems');
        const sep = '"," space';
        if (prefix && prefix.length) {
          if (o.items !== undefined && o.items !== false) throw unsupported(here('items'), 'items beside prefixItems (only items: false)');
          if (minItems > prefix.length) throw unsupported(here('minItems'), 'minItems above the number of prefixItems');
          const parts = (prefix as unknown[]).map((sub, i) => visit(sub, `${here('prefixItems')}/${i}`, depth + 1));
          const n = Math.min(parts.length, maxItems ?? parts.length);
          // the first minItems are required, the rest each optional after the previous
          let tail = '';
          for (let i = n - 1; i >= Math.max(minItems, 1); i--) tail = `(${sep} ${parts[i]}${tail ? ` ${tail}` : ''})?`;
          const req = parts.slice(0, Math.max(minItems, 1)).join(` ${sep} `);
          const inner = `${req}${tail ? ` ${tail}` : ''}`;
          return `"[" space ${minItems === 0 ? `(${inner})?` : inner} "]"`;
        }
        const item = o.items === undefined || o.items === true ? usePrimitive('value') : visit(o.items, here('items'), depth + 1);
        if (maxItems === 0) return '"[" space "]"';
        const more = maxItems === undefined ? `(${sep} ${item})*` : `(${sep} ${item}){${Math.max(minItems - 1, 0)},${maxItems - 1}}`;
        const moreRequired = maxItems === undefined && minItems > 1 ? `(${sep} ${item}){${minItems - 1}} ${more}` : more;
        const list = `${item} ${moreRequired}`;
        return `"[" space ${minItems === 0 ? `(${list})?` : list} "]"`;
      }
      case 'object': {
        only(o, pointer, t, ['properties', 'required', 'additionalProperties']);
        usePrimitive('space');
        const props = o.properties ?? {};
        if (typeof props !== 'object' || props === null || Array.isArray(props)) throw invalid(here('properties'), 'properties must be an object');
        const names = Object.keys(props);
        const required = o.required ?? [];
        if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) throw invalid(here('required'), 'required must be an array of strings');
        for (const r of required as string[]) if (!names.includes(r)) throw unsupported(here('required'), `the required property ${JSON.stringify(r)} that properties does not list`);
        const extra = o.additionalProperties;
        if (!names.length && extra !== false) {
          if (extra === undefined || extra === true) return usePrimitive('object');
          const value = visit(extra, here('additionalProperties'), depth + 1);
          usePrimitive('string');
          const kv = `string ":" space ${value}`;
          return `"{" space (${kv} ("," space ${kv})*)? "}"`;
        }
        if (extra !== undefined && extra !== false) throw unsupported(here('additionalProperties'), 'additionalProperties other than false beside properties');
        const kvs = names.map((n) => `${literal(JSON.stringify(n))} space ":" space ${visit((props as Record<string, unknown>)[n], `${here('properties')}/${pointerPart(n)}`, depth + 1)}`);
        const isReq = names.map((n) => (required as string[]).includes(n));
        if (!names.length) return '"{" space "}"';
        // after[i]: the properties from i on, when one was already written (each then starts with a comma);
        // first[i]: the same when none was written yet
        const after: string[] = new Array(names.length + 1).fill('');
        const first: string[] = new Array(names.length + 1).fill('');
        for (let i = names.length - 1; i >= 0; i--) {
          const next = after[i + 1];
          const a = isReq[i] ? `"," space ${kvs[i]}${next ? ` ${next}` : ''}` : `("," space ${kvs[i]})?${next ? ` ${next}` : ''}`;
          after[i] = addRule(`${pointer}/after-${i}`, a);
          const taken = `${kvs[i]}${next ? ` ${next}` : ''}`;
          const f = isReq[i] ? taken : first[i + 1] ? `${taken} | ${first[i + 1]}` : `(${taken})?`;
          first[i] = addRule(`${pointer}/from-${i}`, f);
        }
        return `"{" space ${first[0]} "}"`;
      }
    }
    throw new Error('unreachable');
  };

  /** Real numbers (decimal, no exponent) in [lo, hi] with integral (or infinite) ends. */
  const realRange = (lo: number, hi: number): string => {
    const frac = '("." [0-9]{1,15})?';
    // a value in [a, b] (a, b >= 0 integers): a whole part in [a, b - 1] and any fraction, or exactly b
    const nonNegative = (a: number, b: number): string[] => {
      const out: string[] = [];
      if (b === Infinity) out.push(`${integerRange(a, Infinity)} ${frac}`);
      else {
        if (b > a) out.push(`${integerRange(a, b - 1)} ${frac}`);
        out.push(`"${b}"`);
      }
      return out;
    };
    const alts: string[] = [];
    if (hi >= 0) alts.push(...nonNegative(Math.max(lo, 0), hi));
    if (lo < 0) alts.push(...nonNegative(Math.max(0, -hi), -lo).map((x) => `"-" ${x}`));
    return alts.join(' | ');
  };

  /** Alternatives of JSON texts, common prefixes shared (a trie), so a long enum stays one parse at a time. */
  const enumExpr = (texts: string[]): string => {
    type Node = Map<string, Node> & { end?: boolean };
    const root: Node = new Map();
    for (const t of texts) {
      let n = root;
      for (const c of t) {
        let m = n.get(c);
        if (!m) n.set(c, (m = new Map()));
        n = m;
      }
      n.end = true;
    }
    let helpers = 0;
    const emit = (n: Node, depth: number): string => {
      // every few levels a rule of its own, so the text never nests parentheses too deep
      if (depth > 0 && depth % 8 === 0) return addRule(`enum-${helpers++}`, emitHere(n, depth + 1));
      return emitHere(n, depth + 1);
    };
    const emitHere = (n: Node, depth: number): string => {
      const alts: string[] = [];
      for (const [c, m] of n) {
        // a chain of single children is one literal
        let run = c;
        let k = m;
        while (k.size === 1 && !k.end) {
          const [[c2, k2]] = k;
          run += c2;
          k = k2;
        }
        const rest = k.size ? emit(k, depth) : '';
        alts.push(rest ? `${literal(run)} ${k.end ? `(${rest})?` : `(${rest})`}` : literal(run));
      }
      return alts.length === 1 ? alts[0] : alts.join(' | ');
    };
    return emit(root, 0);
  };

  const top = visit(schema, '', 0);
  const lines = [`root ::= ${top}`];
  for (const [name, body] of rules) lines.push(`${name} ::= ${body}`);
  for (const name of used) lines.push(`${name} ::= ${PRIMITIVES[name]}`);
  return lines.join('\n') + '\n';
}
