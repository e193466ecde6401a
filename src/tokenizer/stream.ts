// Turns a stream of token ids into text, one id at a time, for printing while a model generates.
//
// Decoding each token on its own is wrong in two ways:
//   - a character can span several tokens (LLaMA byte-fallback tokens like <0xE2>, GPT-NeoX byte-level
//     pieces); decoded alone, each part is U+FFFD;
//   - SentencePiece decoders strip the space at the start of the *decoded text*, so a word token "▁the"
//     decodes to "the" alone but to " the" after another token.
// So we decode a small window instead: the tokens of the last emitted chunk (the context) followed by the
// tokens not yet emitted. The new text is what the window decodes to past the context's own text.
// Text is held back while it ends in U+FFFD (a character still missing bytes).

export interface StreamDecoder {
  /** Add one token id; returns the text it completes ('' when nothing is complete yet). */
  push(id: number): string;
  /** Return whatever text is still held back, and start over as a new stream. */
  flush(): string;
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Most tokens held back before their text is emitted anyway. A character is at most 4 bytes (4 byte
 * tokens); a run held longer is not text that will complete, and decoding an ever longer window at
 * every push would make a long run of such tokens quadratic.
 */
export const MAX_HELD_TOKENS = 16;

/** `decode` must map ids to text the way the whole-sequence decode does (it may throw on a bad id). */
export function createStreamDecoder(decode: (ids: number[]) => string): StreamDecoder {
  let window: number[] = []; // [context tokens..., pending tokens...]
  let contextLength = 0; // how many tokens at the start of `window` were already emitted
  let contextText = ''; // decode(window[0 .. contextLength])

  // The window's text past the context, or null when the window does not extend the context's text.
  function newText(text: string): string | null {
    if (text.length <= contextText.length || !text.startsWith(contextText)) return null;
    return text.slice(contextText.length);
  }

  return {
    push(id: number): string {
      const text = decode([...window, id]); // throws before changing any state when id is bad
      window.push(id);
      const chunk = newText(text);
      // Nothing new (a skipped special token, a stripped space) or an unfinished character: wait,
      // unless MAX_HELD_TOKENS are already waiting.
      const held = window.length - contextLength;
      if ((chunk === null || text.endsWith(REPLACEMENT_CHARACTER)) && held < MAX_HELD_TOKENS) return '';
      // The tokens just emitted become the context for the next ones.
      window = window.slice(contextLength);
      contextLength = window.length;
      contextText = decode(window);
      return chunk ?? '';
    },

    flush(): string {
      const chunk = newText(decode(window)) ?? '';
      window = [];
      contextLength = 0;
      contextText = '';
      return chunk;
    },
  };
}
