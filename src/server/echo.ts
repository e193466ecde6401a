// `echo: true` on /v1/completions: the prompt comes back before the completion, and with `logprobs` its
// tokens too, each with its log-probability under the tokens before it (the first has none: null), in
// OpenAI's legacy shape. This is what lm-evaluation-harness's `local-completions` scores with: it sends
// context + continuation as token ids with max_tokens 1 and reads token_logprobs[ctxlen:-1].
import type { Tokenizer } from '../tokenizer/index.js';
import type { PromptLogprob } from './completion.js';

export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
}

/** The prompt's text (decoded from its ids) and, with `top` set, its logprobs; offsets count from 0. */
export function echoedPrompt(tokenizer: Tokenizer | null, ids: number[], prompt: PromptLogprob[] | undefined, top: number | null): { text: string; logprobs: LegacyLogprobs | null } {
  const decoder = tokenizer?.createStreamDecoder();
  const one = (id: number) => tokenizer?.decode([id]) ?? '';
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let text = '';
  for (let i = 0; i < ids.length; i++) {
    out.text_offset.push(text.length); // where this token's text starts: all that the ones before it made final
    text += decoder?.push(ids[i]) ?? '';
    const p = prompt?.[i];
    out.tokens.push(one(ids[i]));
    out.token_logprobs.push(p?.logprob ?? null);
    out.top_logprobs.push(p && p.logprob !== null && top !== null ? Object.fromEntries((p.top ?? []).slice(0, top).map((t) => [one(t.token), t.logprob])) : null);
  }
  text += decoder?.flush() ?? '';
  return { text, logprobs: top === null ? null : out };
}
