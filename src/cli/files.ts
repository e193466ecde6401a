// The files the CLI is handed: checked before anything loads, so a wrong path is one line saying what
// is wrong with it (missing, a directory, not text), not a system error with a stack.
import { readFile, stat } from 'node:fs/promises';
import { BimambaError } from '../errors.js';

const reasons: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory', ENOTDIR: 'a part of the path is not a directory' };

/** An fs error as the one line a user needs: "cannot read X: no such file". */
export function fileError(path: string, e: unknown, verb = 'read'): BimambaError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return new BimambaError('BAD_ARGUMENT', `cannot ${verb} ${path}: ${reasons[code] ?? (e as Error).message}`, { cause: e });
}

/** A path that must be an existing regular file (a model, a text). */
export async function checkFile(path: string, what: string): Promise<number> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw fileError(path, e);
  }
  if (s.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `${path} is a directory, not ${what}`);
  return s.size;
}

/** A text file's contents; a binary file (a model given as --text, say) is refused before it is tokenized. */
export async function readTextFile(path: string): Promise<string> {
  await checkFile(path, 'a text file');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fileError(path, e);
  }
  const head = bytes.subarray(0, 1 << 16);
  if (head.includes(0)) {
    const model = bytes.length > 9 && bytes[8] === 0x7b; // a safetensors header: 8-byte length, then '{'
    throw new BimambaError('BAD_ARGUMENT', `${path} is not a text file (it holds NUL bytes)${model ? '; it looks like a model file: was it meant for --model?' : ''}`);
  }
  return bytes.toString('utf8');
}
