// The files the CLI is handed: checked before anything loads, so a wrong path is one line saying what
// is wrong with it (missing, a directory, a FIFO, too large, not text), not a system error with a stack,
// a hang or gigabytes of memory.
import { stat } from 'node:fs/promises';
import { INPUT_LIMITS, ioError, readInput } from '../convert/input-files.js';
import { BimambaError } from '../errors.js';

/** An fs error as the one line a user needs: "cannot read X: no such file" (code IO). */
export function fileError(path: string, e: unknown, verb = 'read'): BimambaError {
  return ioError(path, e, verb);
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
  if (!s.isFile()) throw new BimambaError('BAD_ARGUMENT', `${path} is not a regular file (a FIFO or a device?), not ${what}`);
  return s.size;
}

/**
 * A text file's contents (at most INPUT_LIMITS.text bytes); a binary file (a model given as --text, say)
 * is refused before it is tokenized.
 */
export async function readTextFile(path: string): Promise<string> {
  await checkFile(path, 'a text file');
  const bytes = await readInput(path, 'the text', { within: null, maxBytes: INPUT_LIMITS.text });
  const head = bytes.subarray(0, 1 << 16);
  if (head.includes(0)) {
    const model = bytes.length > 9 && bytes[8] === 0x7b; // a safetensors header: 8-byte length, then '{'
    throw new BimambaError('BAD_ARGUMENT', `${path} is not a text file (it holds NUL bytes)${model ? '; it looks like a model file: was it meant for --model?' : ''}`);
  }
  return bytes.toString('utf8');
}

/** Standard input, whole, up to the cap a `--text` file has (`generate < /dev/zero` ends with an error). */
export async function readStdin(limit: number = INPUT_LIMITS.text): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BimambaError('BAD_ARGUMENT', `standard input is over ${limit / 1024 / 1024} MiB; give a shorter text`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
