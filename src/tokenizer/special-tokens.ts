// tokenizer.json does not say which token begins or ends a text (that lives in tokenizer_config.json),
// so when nothing names them, we look for the names the common tokenizers use: here for the runtime's
// BOS and EOS, and in the converter (convert/special-tokens.ts) for a config without ids.
// GPT-NeoX (Mamba) uses <|endoftext|> for both; LLaMA (Bi-Mamba) uses <s> and </s>.
import type { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

/** The usual names of the special tokens, the most likely first. */
export const SPECIAL_TOKEN_NAMES = {
  bos: ['<s>', '<|begin_of_text|>', '<bos>', '<|startoftext|>', '<|endoftext|>'],
  eos: ['</s>', '<|end_of_text|>', '<eos>', '<|endoftext|>'],
  pad: ['<pad>', '<|padding|>'],
} as const;

/** The id of the first of `names` that is a special token of `hf`, or null when none is. */
export function findSpecialTokenId(hf: HfTokenizer, names: readonly string[]): number | null {
  const specialIds = new Map<string, number>();
  for (const [id, token] of hf.get_added_tokens_decoder()) if (token.special) specialIds.set(token.content, id);
  for (const name of names) {
    const id = specialIds.get(name);
    if (id !== undefined) return id;
  }
  return null;
}
