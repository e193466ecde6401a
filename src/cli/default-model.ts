// Where the built-in default model lies: models/default.bimamba in the package, beside dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BimambaError } from '../errors.js';

// From the bundle (dist/cli.js) it is one folder up; from the sources (src/cli/), two.
const CANDIDATES = ['../models/default.bimamba', '../../models/default.bimamba'];

export function defaultModelPath(): string {
  for (const rel of CANDIDATES) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new BimambaError('BAD_ARGUMENT', 'the built-in model (models/default.bimamba) is missing from this install; pass --model FILE');
}
