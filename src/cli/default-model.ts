// The built-in model as a path: the library's defaultModelUrl(), checked to be there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultModelUrl } from '../default-model.js';
import { BimambaError } from '../errors.js';

export function defaultModelPath(): string {
  const path = fileURLToPath(defaultModelUrl());
  if (!existsSync(path)) throw new BimambaError('BAD_ARGUMENT', 'the built-in model (models/default.bimamba) is missing from this install; pass --model FILE');
  return path;
}
