// The one set of generation defaults: the library, the CLI (its --help shows them) and the README's
// table all read this object, so the same prompt, seed and options give the same text everywhere.
export const GENERATION_DEFAULTS = {
  /** Most tokens to generate. */
  maxTokens: 128,
  /** Softmax temperature; 0 is greedy (argmax). */
  temperature: 0.8,
  /** Keep the k most likely tokens; 0 is off. */
  topK: 40,
  /** Keep the smallest set of tokens whose probability reaches p; 1 is off. */
  topP: 0.95,
  /** Drop tokens less likely than minP times the most likely one; 0 is off. */
  minP: 0,
  /** Divide (multiply, when negative) the logits of recently seen tokens; 1 is off. */
  repetitionPenalty: 1,
} as const;

/** The most recent tokens a session remembers for the repetition penalty (SamplingOptions.repetitionWindow). */
export const MAX_RECENT_TOKENS = 4096;

/** How many of the session's latest tokens the repetition penalty looks at (a library option; the CLI has no flag for it). */
export const DEFAULT_REPETITION_WINDOW = 256;

/**
 * The highest temperature `bimamba generate` and the server take (OpenAI's bound; above it a draw is close to
 * uniform noise): one rule for both. The library takes any finite temperature ≥ 0.
 */
export const MAX_TEMPERATURE = 2;
