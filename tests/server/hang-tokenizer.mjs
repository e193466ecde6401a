// A tokenizer that never returns on a prompt containing "hang" (as a catastrophically backtracking
// pre-tokenizer regex would), for the server's encoder time budget; else one id per character code.
export function loadTokenizer() {
  return {
    encode(text) {
      if (text.includes('hang')) for (;;);
      return Array.from(text, (c) => c.charCodeAt(0));
    },
  };
}
