// Structured output for one generation: the options (jsonSchema, json, grammar) turned into a grammar,
// and at every step a mask over the logits that leaves only the tokens keeping the text a valid prefix.
//
// Compiled grammars are cached by their GBNF text; a compiled grammar keeps, per vocabulary, a recognizer
// and the allowed-token masks of the states it has seen, shared by the generations that use it (a
// server answering the same schema again starts warm). When those caches have grown large, the next
// generation starts a fresh set (the ones in use stay with their generations).
import { BimambaError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { compileRules, type Program } from './compile.js';
import { parseGbnf } from './gbnf.js';
import { jsonSchemaToGbnf } from './json-schema.js';
import { DEAD, MAX_STATES, Recognizer } from './recognizer.js';
import { trieOf, type TokenTrie } from './vocab.js';

export interface StructuredOptions {
  /**
   * Constrain the output to JSON that this JSON Schema accepts (the subset in docs/structured-output.md;
   * an unsupported keyword is an UNSUPPORTED error naming it and its JSON pointer).
   */
  jsonSchema?: object | boolean;
  /** Constrain the output to one JSON value (any). */
  json?: boolean;
  /** Constrain the output to a grammar in llama.cpp's GBNF (its `root` rule). */
  grammar?: string;
}

/** The GBNF text the options ask for, or null for unconstrained output. Checks the options. */
export function grammarText(o: StructuredOptions): string | null {
  const given = (['jsonSchema', 'json', 'grammar'] as const).filter((k) => o[k] !== undefined && !(k === 'json' && o[k] === false));
  if (given.length > 1) throw new BimambaError('BAD_ARGUMENT', `give at most one of jsonSchema, json and grammar, not ${given.join(' and ')}`);
  if (o.json !== undefined && typeof o.json !== 'boolean') throw new BimambaError('BAD_ARGUMENT', `invalid json: ${String(o.json)} (true or false)`);
  if (o.grammar !== undefined && typeof o.grammar !== 'string') throw new BimambaError('BAD_ARGUMENT', 'grammar must be a string of GBNF');
  if (o.jsonSchema !== undefined && (typeof o.jsonSchema !== 'object' || o.jsonSchema === null) && typeof o.jsonSchema !== 'boolean') {
    throw new BimambaError('BAD_ARGUMENT', 'jsonSchema must be a JSON Schema (an object or a boolean)');
  }
  if (o.grammar !== undefined) return o.grammar;
  if (o.jsonSchema !== undefined) return jsonSchemaToGbnf(o.jsonSchema);
  if (o.json) return jsonSchemaToGbnf({});
  return null;
}

interface Runner {
  recognizer: Recognizer;
  /** Per state: a bit per token id, set where the token is allowed. */
  masks: Map<number, Uint32Array>;
  maskWords: number;
}

interface Compiled {
  program: Program;
  runners: WeakMap<TokenTrie, Runner>;
}

/** Compiled grammars kept, by text (least recently used dropped first). */
const CACHE_ENTRIES = 32;
const cache = new Map<string, Compiled>();
/** Bytes of masks one runner keeps before it forgets them. */
const MASK_CACHE_BYTES = 16 << 20;
/**
 * Most recognizer work (stacks advanced and rules expanded) for one state's mask: a grammar whose parses
 * stay many for every byte of every token would otherwise take seconds per token. Typical JSON schemas
 * need well under 1 % of it.
 */
export const MAX_MASK_WORK = 20_000_000;

/** Parse and lower GBNF text (cached): errors name the rule and where. */
export function compileGrammar(text: string): Program {
  return compiled(text).program;
}

function compiled(text: string): Compiled {
  let c = cache.get(text);
  if (c) {
    cache.delete(text);
    cache.set(text, c);
    return c;
  }
  c = { program: compileRules(parseGbnf(text)), runners: new WeakMap() };
  // checks that the start is usable now, so a bad grammar fails before a model is touched
  void new Recognizer(c.program);
  cache.set(text, c);
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  return c;
}

export class GrammarConstraint {
  private state: number;
  private readonly runner: Runner;

  constructor(
    text: string,
    private readonly trie: TokenTrie,
    private readonly eosTokenId: number | null,
  ) {
    const c = compiled(text);
    let runner = c.runners.get(trie);
    if (!runner || runner.recognizer.size.states > MAX_STATES / 2) {
      runner = { recognizer: new Recognizer(c.program), masks: new Map(), maskWords: (trie.bytes.length + 31) >>> 5 };
      c.runners.set(trie, runner);
    }
    this.runner = runner;
    this.state = runner.recognizer.initial;
  }

  /** Whether the text so far is a whole sentence of the grammar that nothing can extend. */
  get complete(): boolean {
    const r = this.runner.recognizer;
    return r.accepts(this.state) && !r.canContinue(this.state);
  }

  /** Set every disallowed token's logit to -Infinity (EOS is allowed only where the grammar can end). */
  mask(logits: Float32Array): void {
    const bits = this.allowed();
    const V = logits.length;
    const eos = this.eosTokenId;
    const eosLogit = eos !== null && eos < V ? logits[eos] : -Infinity;
    let any = false;
    for (let w = 0; w * 32 < V; w++) {
      const word = bits[w];
      if (word === 0xffffffff) { any = true; continue; }
      if (word) any = true;
      const end = Math.min(V, w * 32 + 32);
      for (let i = w * 32; i < end; i++) if (!((word >>> (i & 31)) & 1)) logits[i] = -Infinity;
    }
    if (eos !== null && eos < V && this.runner.recognizer.accepts(this.state)) {
      logits[eos] = eosLogit;
      any = true;
    }
    if (!any) throw new BimambaError('BAD_ARGUMENT', 'grammar: no token of the vocabulary can continue the text here (the grammar needs characters the vocabulary cannot write)');
  }

  /** Advance past a sampled token. */
  accept(token: number): void {
    if (token === this.eosTokenId) return;
    const bytes = this.trie.bytes[token];
    const next = bytes ? this.runner.recognizer.walk(this.state, bytes) : DEAD;
    if (next === DEAD) throw new BimambaError('BAD_TOKEN', `grammar: the token ${token} does not continue the text in the grammar`);
    this.state = next;
  }

  private allowed(): Uint32Array {
    const { masks, maskWords, recognizer } = this.runner;
    let bits = masks.get(this.state);
    if (bits) return bits;
    bits = new Uint32Array(maskWords);
    // depth-first over the trie, carrying the state after each node's bytes; a dead state prunes the subtree
    recognizer.workStart = recognizer.work;
    recognizer.workLimit = recognizer.work + MAX_MASK_WORK;
    try {
      this.walkTrie(bits);
    } finally {
      recognizer.workLimit = Infinity;
    }
    if ((masks.size + 1) * maskWords * 4 > MASK_CACHE_BYTES) masks.clear();
    masks.set(this.state, bits);
    return bits;
  }

  private walkTrie(bits: Uint32Array): void {
    const { recognizer } = this.runner;
    const { edgeStart, edgeByte, edgeChild, tokenStart, tokenIds } = this.trie;
    const nodes: number[] = [0];
    const states: number[] = [this.state];
    while (nodes.length) {
      const n = nodes.pop()!;
      const s = states.pop()!;
      for (let e = edgeStart[n]; e < edgeStart[n + 1]; e++) {
        const s2 = recognizer.step(s, edgeByte[e]);
        if (s2 === DEAD) continue;
        const c = edgeChild[e];
        for (let t = tokenStart[c]; t < tokenStart[c + 1]; t++) {
          const id = tokenIds[t];
          bits[id >>> 5] |= 1 << (id & 31);
        }
        if (edgeStart[c + 1] > edgeStart[c]) {
          nodes.push(c);
          states.push(s2);
        }
      }
    }
  }
}

/**
 * The constraint a generation's options ask for, or null. Its trie holds the ids both the model and the
 * tokenizer have; the mask refuses every other id (a padded embedding's rows past the vocabulary).
 */
export function constraintFor(o: StructuredOptions, host: { tokenizer: Tokenizer | null; vocabSize: number }, eosTokenId: number | null): GrammarConstraint | null {
  const text = grammarText(o);
  if (text === null) return null;
  compiled(text); // grammar errors first
  const { tokenizer } = host;
  if (!tokenizer) throw new BimambaError('UNSUPPORTED', 'structured output (jsonSchema, json, grammar) needs the model\'s tokenizer');
  return new GrammarConstraint(text, trieOf(tokenizer, Math.min(host.vocabSize, tokenizer.vocabSize)), eosTokenId);
}
