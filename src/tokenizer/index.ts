// Text <-> token ids, from the HF `tokenizer.json` a model file embeds, or from a SentencePiece
// `tokenizer.model` (sentencepiece.ts; the official Bi-Mamba weights use LLaMA's).
// The tokenization itself is @huggingface/tokenizers (pure JS, no eval, runs in every host); this file
// checks the input, gives the library's errors our error type, and sets the options that make it
// behave like HF `tokenizers` (Rust): no special tokens added, no "clean up" of spaces when decoding.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BimambaError, badFormat } from '../errors.js';
import { checkJsonShape } from '../format/json-shape.js';
import { checkPipelines } from './pipeline-check.js';
import { compiledPatterns, nestedQuantifier, regexPatterns } from './regex-check.js';
import { createStreamDecoder, type StreamDecoder } from './stream.js';
import { findSpecialTokenId, SPECIAL_TOKEN_NAMES } from './special-tokens.js';
import { parseSentencePieceModel } from './sentencepiece-model.js';
import { sentencePieceTokenizer } from './sentencepiece.js';
import { classifyTokenizerSource } from './sentencepiece-source.js';

export type { StreamDecoder } from './stream.js';

export interface Tokenizer {
  /** Token ids of `text`, with no special tokens added (prepend `bosTokenId` yourself when wanted). */
  encode(text: string): number[];
  /** Text of `ids`; special tokens (BOS, EOS, padding) are left out, as HF `tokenizers` does by default. */
  decode(ids: number[]): string;
  /** One more than the largest token id (the model's embedding may be padded past it). */
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /**
   * Whether text prompts start with BOS: the tokenizer's own post-processor adds it, or it is a
   * SentencePiece-style BPE (byte fallback, as LLaMA), whose models are trained with BOS first.
   */
  addsBos: boolean;
  tokenToId(token: string): number | null;
  idToToken(id: number): string | null;
  /** Decodes ids one at a time; the pushed chunks plus flush() add up to decode() of all the ids. */
  createStreamDecoder(): StreamDecoder;
}

export interface LoadTokenizerOptions {
  /** The BOS / EOS token strings, when the model's config names them (else they are guessed by name). */
  bosToken?: string;
  eosToken?: string;
}

const SUPPORTED_MODEL_TYPES = ['BPE', 'Unigram', 'WordPiece'];

// tokenizer.json keys the library insists on; HF writes them as null when unused, hand-made files may not.
const OPTIONAL_PARTS = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [] };

const bad = (what: string, cause?: unknown) => badFormat('tokenizer.json', what, cause === undefined ? undefined : { cause });

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseTokenizerJson(json: string | object): Record<string, unknown> {
  let parsed: unknown = json;
  if (typeof json === 'string') {
    checkJsonShape(json, 'tokenizer.json');
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw bad(`not valid JSON (${(e as Error).message})`, e);
    }
  }
  if (!isPlainObject(parsed)) throw bad(`expected a JSON object at the top level, got ${describe(parsed)}`);
  const model = parsed.model;
  if (!isPlainObject(model)) throw bad(`"model" must be an object, got ${describe(model)}`);
  if (model.type !== undefined && !SUPPORTED_MODEL_TYPES.includes(model.type as string)) {
    const type = typeof model.type === 'string' ? JSON.stringify(model.type.slice(0, 40)) : describe(model.type);
    throw bad(`unsupported model type ${type} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  checkVocab(model.vocab);
  if (parsed.added_tokens !== undefined) checkAddedTokens(parsed.added_tokens);
  checkPipelines(parsed, (what) => bad(what));
  screenPatterns(regexPatterns(parsed));
  return parsed;
}

/** Refuse a regular expression whose backtracking could blow up (regex-check.ts). */
function screenPatterns(patterns: string[]): void {
  for (const pattern of patterns) {
    const why = nestedQuantifier(pattern);
    if (why) throw bad(`the regular expression ${JSON.stringify(pattern.slice(0, 60))} could take exponential time on some texts (${why}); refusing it`);
  }
}

/**
 * Token ids past this are refused: the library keeps tokens in an array indexed by id, so one id of
 * 2^31 in a hostile file would make it walk two billion empty slots.
 */
export const MAX_TOKEN_ID = 1 << 22;

const isTokenId = (id: unknown) => Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) < MAX_TOKEN_ID;

function checkAddedTokens(added: unknown): void {
  if (!Array.isArray(added)) throw bad(`"added_tokens" must be an array`);
  added.forEach((t, i) => {
    if (!isPlainObject(t) || typeof t.content !== 'string' || !isTokenId(t.id)) {
      throw bad(`"added_tokens" entry ${i} must be {"id": an integer in [0, ${MAX_TOKEN_ID}), "content": a string, ...}`);
    }
  });
}

/** A vocabulary is {token: id} (BPE, WordPiece) or [[token, score], ...] (Unigram). */
function checkVocab(vocab: unknown): void {
  if (Array.isArray(vocab)) {
    if (vocab.length > MAX_TOKEN_ID) throw bad(`"model.vocab" has ${vocab.length} entries, over the limit of ${MAX_TOKEN_ID}`);
    vocab.forEach((entry, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw bad(`"model.vocab" entry ${i} must be [token, score], got ${describe(entry)}`);
      }
    });
  } else if (isPlainObject(vocab)) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!isTokenId(id)) throw bad(`"model.vocab": the id of token ${JSON.stringify(token.slice(0, 40))} must be an integer in [0, ${MAX_TOKEN_ID})`);
    }
  } else {
    throw bad(`"model.vocab" is missing or not a vocabulary`);
  }
}

/**
 * Call the tokenizer library. A tokenizer.json can be well-formed enough to load and still make the
 * library throw on some text; its errors become BAD_FORMAT errors naming what failed.
 */
function guarded<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof BimambaError) throw e;
    throw bad(`${what} failed: ${(e as Error)?.message ?? String(e)}`, e);
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

/**
 * Build a tokenizer from a HF `tokenizer.json` (its text, parsed object or bytes) or a SentencePiece
 * `tokenizer.model` (its bytes, or the `{"sentencepiece": base64}` form a model file embeds).
 */
export function loadTokenizer(source: string | object | Uint8Array | ArrayBuffer, options: LoadTokenizerOptions = {}): Tokenizer {
  const input = classifyTokenizerSource(source);
  if ('sentencepiece' in input) return sentencePieceTokenizer(parseSentencePieceModel(input.sentencepiece), options);
  const parsed = parseTokenizerJson(input.json);
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer({ ...OPTIONAL_PARTS, ...parsed }, { clean_up_tokenization_spaces: false });
  } catch (e) {
    throw bad(`cannot be loaded: ${(e as Error).message}`, e);
  }
  // the patterns as the library rewrote them (Oniguruma to JavaScript) are the ones that will run
  const lib = hf as unknown as { normalizer: unknown; pre_tokenizer: unknown; decoder: unknown };
  screenPatterns(compiledPatterns([lib.normalizer, lib.pre_tokenizer, lib.decoder]));

  let vocabSize = 0;
  for (const id of guarded('reading the vocabulary', () => hf.get_vocab(true)).values()) vocabSize = Math.max(vocabSize, id + 1);
  if (vocabSize === 0) throw bad('the vocabulary is empty');

  function checkIds(ids: number[]): void {
    if (!Array.isArray(ids)) throw new BimambaError('BAD_ARGUMENT', `decode: expected an array of token ids, got ${describe(ids)}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || hf.id_to_token(id) === undefined) {
        throw new BimambaError('BAD_TOKEN', `decode: token id ${String(id)} at position ${i} is not in the vocabulary (size ${vocabSize})`);
      }
    }
  }

  function decode(ids: number[]): string {
    checkIds(ids);
    if (ids.length === 0) return ''; // the library rejects an empty list
    return guarded('decoding', () => hf.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
  }

  function specialId(given: string | undefined, names: readonly string[], which: string): number | null {
    if (given === undefined) return findSpecialTokenId(hf, names);
    const id = hf.token_to_id(given);
    if (id === undefined) throw new BimambaError('BAD_ARGUMENT', `loadTokenizer: ${which} token ${JSON.stringify(given)} is not in the vocabulary`);
    return id;
  }

  const bosTokenId = specialId(options.bosToken, SPECIAL_TOKEN_NAMES.bos, 'BOS');
  const model = parsed.model as Record<string, unknown>;
  const addsBos =
    bosTokenId !== null && (guarded('encoding', () => hf.encode('a', { add_special_tokens: true })).ids[0] === bosTokenId || model.byte_fallback === true);

  return {
    encode(text: string): number[] {
      if (typeof text !== 'string') throw new BimambaError('BAD_ARGUMENT', `encode: expected a string, got ${describe(text)}`);
      if (text.length === 0) return [];
      return guarded('encoding', () => hf.encode(text, { add_special_tokens: false }).ids);
    },
    decode,
    vocabSize,
    bosTokenId,
    addsBos,
    eosTokenId: specialId(options.eosToken, SPECIAL_TOKEN_NAMES.eos, 'EOS'),
    tokenToId: (token) => hf.token_to_id(token) ?? null,
    idToToken: (id) => (Number.isInteger(id) ? (hf.id_to_token(id) ?? null) : null),
    createStreamDecoder: () => createStreamDecoder(decode),
  };
}
