// Token id checks shared by feeding, generation and snapshots.
import { BimambaError } from '../errors.js';

/** Check `tokens` is an array (or array-like) of integers inside the vocabulary; the error names the first bad position. */
export function checkTokens(tokens: ArrayLike<number>, vocab: number): void {
  const length = (tokens as { length?: unknown } | null)?.length;
  if (typeof tokens !== 'object' || tokens === null || !Number.isSafeInteger(length) || (length as number) < 0) {
    throw new BimambaError('BAD_ARGUMENT', `expected an array of token ids, got ${tokens === null ? 'null' : typeof tokens}`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      const shown = typeof t === 'number' ? String(t) : typeof t;
      throw new BimambaError('BAD_TOKEN', `token id ${shown} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
  }
}
