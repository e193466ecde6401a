// Special token ids for checkpoints whose config does not give them (mamba_ssm configs never do):
// taken from tokenizer_config.json when present, else from the usual token names (the runtime's list,
// tokenizer/special-tokens.ts) found in the tokenizer.
import { parseSentencePieceModel } from '../tokenizer/sentencepiece-model.js';
import { classifyTokenizerSource } from '../tokenizer/sentencepiece-source.js';
import { SPECIAL_TOKEN_NAMES } from '../tokenizer/special-tokens.js';

export interface SpecialTokens {
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
}

const USUAL: Record<keyof SpecialTokens, readonly string[]> = {
  bos_token_id: SPECIAL_TOKEN_NAMES.bos,
  eos_token_id: SPECIAL_TOKEN_NAMES.eos,
  pad_token_id: SPECIAL_TOKEN_NAMES.pad,
};

const CONFIG_KEYS: Record<keyof SpecialTokens, string> = { bos_token_id: 'bos_token', eos_token_id: 'eos_token', pad_token_id: 'pad_token' };

/** token string -> id, from the tokenizer's added tokens and its model vocabulary (or a SentencePiece model's pieces). */
function tokenIds(tokenizerJson: string): Map<string, number> {
  const ids = new Map<string, number>();
  const source = classifyTokenizerSource(tokenizerJson);
  if ('sentencepiece' in source) {
    parseSentencePieceModel(source.sentencepiece).pieces.forEach((piece, id) => ids.set(piece, id));
    return ids;
  }
  const t = JSON.parse(tokenizerJson) as { added_tokens?: { id: number; content: string }[]; model?: { vocab?: unknown } };
  const vocab = t.model?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    for (const [piece, id] of Object.entries(vocab as Record<string, unknown>)) if (typeof id === 'number') ids.set(piece, id);
  } else if (Array.isArray(vocab)) {
    vocab.forEach((entry, id) => { if (Array.isArray(entry) && typeof entry[0] === 'string') ids.set(entry[0], id); }); // Unigram: [piece, score]
  }
  for (const a of t.added_tokens ?? []) if (typeof a?.content === 'string' && typeof a.id === 'number') ids.set(a.content, a.id);
  return ids;
}

/** Fill the ids that are null in `known`. */
export function fillSpecialTokens(known: SpecialTokens, tokenizerJson: string | null, tokenizerConfig: Record<string, unknown> | null): SpecialTokens {
  if (!tokenizerJson) return known;
  const ids = tokenIds(tokenizerJson);
  const out = { ...known };
  for (const key of Object.keys(USUAL) as (keyof SpecialTokens)[]) {
    if (out[key] !== null) continue;
    const named = tokenizerConfig?.[CONFIG_KEYS[key]];
    const text = typeof named === 'string' ? named : (named as { content?: unknown } | undefined)?.content;
    const candidates = typeof text === 'string' ? [text] : USUAL[key];
    for (const c of candidates) {
      const id = ids.get(c);
      if (id !== undefined) { out[key] = id; break; }
    }
  }
  return out;
}

/** How many token ids the tokenizer uses (its largest id + 1). */
export function tokenizerSize(tokenizerJson: string): number {
  let max = -1;
  for (const id of tokenIds(tokenizerJson).values()) max = Math.max(max, id);
  return max + 1;
}
