// Embeddings: the mean over a text's positions of the last hidden state after the final norm, L2-normalised
// (as llama.cpp's mean pooling does), from a fresh state. One vector of d_model floats per input.
import { BimambaError } from '../errors.js';
import { promptIds, type GenerationHost } from '../generate/generate.js';
import type { Session } from './session.js';

export function embedding(host: GenerationHost<Session> & { config: { d_model: number } }, input: string | ArrayLike<number>): Float32Array {
  const ids = promptIds(host, input);
  if (ids.length === 0) throw new BimambaError('BAD_ARGUMENT', 'cannot embed an empty input');
  const D = host.config.d_model;
  const sum = new Float64Array(D);
  const session = host.createSession();
  try {
    session.feedHidden(ids, (rows, T) => {
      for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) sum[i] += rows[t * D + i];
    });
  } finally {
    session.dispose();
  }
  let norm = 0;
  for (let i = 0; i < D; i++) norm += sum[i] * sum[i];
  norm = Math.sqrt(norm) || 1;
  return Float32Array.from(sum, (x) => x / norm);
}
