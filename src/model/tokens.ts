// Token id checks shared by feeding, generation and snapshots.
import { BimambaError } from '../errors.js';

/** Check ids are integers inside the vocabulary; the error names the first bad position. */
export function checkTokens(tokens: ArrayLike<number>, vocab: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || Number.isNaN(t)) throw new BimambaError('BAD_TOKEN', `token id ${typeof t === 'string' ? JSON.stringify(t) : String(t)} at position ${i} is not a number`);
    if (!Number.isInteger(t)) throw new BimambaError('BAD_TOKEN', `token id ${t} at position ${i} is not an integer`);
    if (t < 0 || t >= vocab) {
      throw new BimambaError('BAD_TOKEN', `token id ${t} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
  }
}
