// Token id checks shared by feeding, generation and snapshots.
import { BimambaError } from '../errors.js';

/** Check ids are integers inside the vocabulary; the error names the first bad position. */
export function checkTokens(tokens: ArrayLike<number>, vocab: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      throw new BimambaError('BAD_TOKEN', `token id ${t} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
  }
}
