// Token id checks shared by generation, feeding and snapshots (model/ imports them from here).
import { BimambaError } from '../errors.js';

/** Check `tokens` is an array (or array-like) of integers inside the vocabulary; the error names the first bad position. */
export function checkTokens(tokens: ArrayLike<number>, vocab: number): void {
  const length = (tokens as { length?: unknown } | null)?.length;
  if (typeof tokens !== 'object' || tokens === null || !Number.isSafeInteger(length) || (length as number) < 0) {
    throw new BimambaError('BAD_ARGUMENT', `expected an array of token ids, got ${tokens === null ? 'null' : typeof tokens}`);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || Number.isNaN(t)) {
      // never String() an object from the caller: its toString may throw or be missing
      const shown = typeof t === 'string' ? JSON.stringify((t as string).slice(0, 40)) : typeof t === 'number' ? 'NaN' : t === null ? 'null' : `of type ${typeof t}`;
      throw new BimambaError('BAD_TOKEN', `token id ${shown} at position ${i} is not a number`);
    }
    if (!Number.isInteger(t)) throw new BimambaError('BAD_TOKEN', `token id ${t} at position ${i} is not an integer`);
    if (t < 0 || t >= vocab) {
      throw new BimambaError('BAD_TOKEN', `token id ${t} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
  }
}
