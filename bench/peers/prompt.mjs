// The benchmark prompt: fixed pseudo-random token ids inside the vocabulary (above the 3 special ids),
// the same for every runtime. Plain JS, so that bench/run-model.mjs runs without a TypeScript loader.
export function benchPrompt(n, vocab) {
  let x = 12345;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 3 + (x % (vocab - 3));
  });
}
