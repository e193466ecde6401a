// Bounds on what a tokenizer.json's normalizers, pre-tokenizers, decoders and model may cost, checked
// before the tokenizer library sees the file. Without them a few bytes of JSON can make one encode
// call take minutes or all of memory: twelve `Replace` steps whose pattern is the empty string each
// triple the text (3^12 times the prompt), a `FixedLength` of 0 never ends, a WordPiece that accepts
// words of 10^9 characters is cubic in the word, a Unigram piece of 40,000 characters is quadratic.
//
// Each text step can make its text at most `growth` times longer (plus a constant): the bound below
// multiplies them along the pipeline and refuses a file whose text could grow past MAX_TEXT_GROWTH.
// The factors are upper bounds: a Replace of a string by a string of c characters, c times (at
// least 1); a Replace by regex, 1 + c (a pattern that matches the empty string inserts c characters
// at every position); Unicode normalization, 18 (NFKC of U+FDFA); lowercasing, 3; byte-level
// mapping, 3 (one UTF-16 unit is up to 3 UTF-8 bytes, each one character).

/** Steps (normalizers, pre-tokenizers, decoders, Sequences included) allowed in each of the three pipelines. */
export const MAX_PIPELINE_STEPS = 16;
/** How many times longer than the prompt the normalized and pre-tokenized text may become, at worst. */
export const MAX_TEXT_GROWTH = 1024;
/** Longest string a step may insert: Replace content, Prepend, Metaspace replacement, Strip content. */
export const MAX_STEP_STRING = 64;
/** Longest word a WordPiece model may be asked to split (its cost is cubic in the word). */
export const MAX_WORDPIECE_WORD = 200;
/** Longest Unigram piece, in characters (the lattice is built in time prompt × longest piece). */
export const MAX_UNIGRAM_PIECE = 100;

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A string field that a step inserts into the text: at most MAX_STEP_STRING characters. */
function insertedString(step: Json, key: string, where: string, fail: (what: string) => Error): number {
  const v = step[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'string') throw fail(`${where}: "${key}" must be a string`);
  if (v.length > MAX_STEP_STRING) throw fail(`${where}: "${key}" is ${v.length} characters, over the limit of ${MAX_STEP_STRING}`);
  return v.length;
}

/** Growth factor of a Replace step; an empty pattern is refused (it would insert the content everywhere). */
function replaceGrowth(step: Json, where: string, fail: (what: string) => Error): number {
  const c = insertedString(step, 'content', where, fail);
  const pattern = step.pattern;
  if (!isObject(pattern)) throw fail(`${where}: "pattern" must be {"String": ...} or {"Regex": ...}`);
  if (pattern.String !== undefined) {
    if (typeof pattern.String !== 'string' || pattern.String.length === 0) throw fail(`${where}: a Replace pattern must be a non-empty string`);
    return Math.max(1, Math.ceil(c / pattern.String.length));
  }
  if (pattern.Regex !== undefined) {
    if (typeof pattern.Regex !== 'string' || pattern.Regex.length === 0) throw fail(`${where}: a Replace pattern must be a non-empty regular expression`);
    return 1 + c;
  }
  throw fail(`${where}: "pattern" must be {"String": ...} or {"Regex": ...}`);
}

/** Growth factor of one normalizer step (its children too, for a Sequence). */
function normalizerGrowth(step: Json, where: string, fail: (what: string) => Error): number {
  switch (step.type) {
    case 'Replace': return replaceGrowth(step, where, fail);
    case 'Prepend': insertedString(step, 'prepend', where, fail); return 1;
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': case 'Precompiled': return 18;
    case 'Lowercase': return 3;
    case 'BertNormalizer': return 3 * 18 * 3; // spaces around CJK characters, NFD, lowercasing
    default: return 1; // Strip, StripAccents: never longer; unknown types are refused by the library
  }
}

function preTokenizerGrowth(step: Json, where: string, fail: (what: string) => Error): number {
  switch (step.type) {
    case 'Replace': return replaceGrowth(step, where, fail);
    case 'Metaspace': {
      const r = Math.max(insertedString(step, 'replacement', where, fail), insertedString(step, 'str_rep', where, fail));
      return Math.max(1, r);
    }
    case 'ByteLevel': return 3;
    case 'FixedLength':
      if (step.length !== undefined && !(Number.isSafeInteger(step.length) && (step.length as number) > 0)) {
        throw fail(`${where}: "length" must be a positive integer`);
      }
      return 1;
    default: return 1; // splitting steps never add characters
  }
}

function decoderGrowth(step: Json, where: string, fail: (what: string) => Error): number {
  switch (step.type) {
    case 'Replace': return replaceGrowth(step, where, fail);
    case 'Strip': insertedString(step, 'content', where, fail); return 1;
    case 'Metaspace': insertedString(step, 'replacement', where, fail); return 1;
    default: return 1;
  }
}

/**
 * Walk one pipeline (a step, or a Sequence of them under `childKey`) without recursion: count its
 * steps and multiply their growth factors.
 */
function pipeline(root: unknown, name: string, childKey: string, growthOf: (step: Json, where: string, fail: (what: string) => Error) => number, fail: (what: string) => Error): number {
  if (root === null || root === undefined) return 1;
  let steps = 0;
  let growth = 1;
  const todo: [unknown, string][] = [[root, `"${name}"`]];
  while (todo.length > 0) {
    const [step, where] = todo.pop()!;
    if (++steps > MAX_PIPELINE_STEPS) throw fail(`"${name}" has more than ${MAX_PIPELINE_STEPS} steps`);
    if (!isObject(step)) throw fail(`${where} must be an object`);
    if (step.type === 'Sequence') {
      const children = step[childKey];
      if (children === undefined) continue;
      if (!Array.isArray(children)) throw fail(`${where}: "${childKey}" must be an array`);
      children.forEach((c, i) => todo.push([c, `${where}.${childKey}[${i}]`]));
      continue;
    }
    growth *= growthOf(step, where, fail);
  }
  return growth;
}

/** Check a parsed tokenizer.json against the bounds above; `fail` makes the error to throw. */
export function checkPipelines(doc: Json, fail: (what: string) => Error): void {
  const textGrowth =
    pipeline(doc.normalizer, 'normalizer', 'normalizers', normalizerGrowth, fail) *
    pipeline(doc.pre_tokenizer, 'pre_tokenizer', 'pretokenizers', preTokenizerGrowth, fail);
  if (textGrowth > MAX_TEXT_GROWTH) {
    throw fail(`the normalizer and pre-tokenizer could make a text up to ${textGrowth} times longer, over the limit of ${MAX_TEXT_GROWTH}`);
  }
  const decodeGrowth = pipeline(doc.decoder, 'decoder', 'decoders', decoderGrowth, fail);
  if (decodeGrowth > MAX_TEXT_GROWTH) {
    throw fail(`the decoder could make a text up to ${decodeGrowth} times longer, over the limit of ${MAX_TEXT_GROWTH}`);
  }

  const model = doc.model as Json;
  const maxWord = model.max_input_chars_per_word; // WordPiece's (100 when absent)
  if (maxWord !== undefined && !(Number.isSafeInteger(maxWord) && (maxWord as number) >= 0 && (maxWord as number) <= MAX_WORDPIECE_WORD)) {
    throw fail(`"model.max_input_chars_per_word" must be an integer in [0, ${MAX_WORDPIECE_WORD}]`);
  }
  if (Array.isArray(model.vocab)) {
    // Unigram: [[piece, score], ...] (checkVocab has checked the shape)
    model.vocab.forEach((entry, i) => {
      const piece = (entry as [string, number])[0];
      if (piece.length > MAX_UNIGRAM_PIECE && [...piece].length > MAX_UNIGRAM_PIECE) {
        throw fail(`"model.vocab" entry ${i} is a piece of ${[...piece].length} characters, over the limit of ${MAX_UNIGRAM_PIECE}`);
      }
    });
  }
}
