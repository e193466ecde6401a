// Opening the files a command reads (Node): a checkpoint's config, tokenizer, index and weights, a text
// to evaluate. Each is checked before a byte is read: a symbolic link may not lead out of the checkpoint
// directory (a tokenizer.json linked to ~/.aws/credentials would be embedded in the output) unless the
// caller allows it; only a regular file is read (a FIFO would hang the read, /dev/zero never ends); and
// a file read whole has a size cap. The checks that matter run on the opened descriptor, so a file
// swapped between the check and the open is still checked.
import { constants } from 'node:fs';
import { lstat, open, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { BimambaError, type ErrorCode } from '../errors.js';

const MiB = 1024 * 1024;

/** Caps on the files read whole (far above real ones: a config is a few KB, a tokenizer.json a few MB). */
export const INPUT_LIMITS = {
  /** config.json, or a --config file. */
  config: 1 * MiB,
  /** tokenizer.json or tokenizer.model (a .bimamba header holds at most 100 MB, the tokenizer escaped in it). */
  tokenizer: 64 * MiB,
  /** tokenizer_config.json (chat templates and added tokens make some a few MB). */
  tokenizerConfig: 16 * MiB,
  /** model.safetensors.index.json / pytorch_model.bin.index.json. */
  index: 16 * MiB,
  /** `bimamba ppl --text`. */
  text: 128 * MiB,
} as const;

export interface InputRules {
  /**
   * The checkpoint directory the file belongs to: a symbolic link must resolve inside it. Null for a path
   * the caller named itself (`--config`, `--tokenizer`, `--text`), which is read wherever it leads.
   */
  within: string | null;
  /** Read links that lead out of `within` too (`--follow-symlinks`). */
  followSymlinks?: boolean;
  /** Most bytes; leave out for files read in place (weights). */
  maxBytes?: number;
}

const reasons: Record<string, string> = {
  ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory', ELOOP: 'too many levels of symbolic links', EMFILE: 'too many open files',
};

/** An fs failure as one line: "cannot read X: no such file" (code IO). */
export function ioError(path: string, e: unknown, verb = 'read'): BimambaError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return new BimambaError('IO', `cannot ${verb} ${path}: ${reasons[code] ?? (e as Error).message}`, { cause: e });
}

/** What a non-regular file is, for the message. */
function kindOf(s: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

const isInside = (path: string, root: string) => {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
};

/**
 * Where links of a checkpoint directory may lead: the directory itself, and for a Hugging Face hub
 * cache snapshot (`models--org--name/snapshots/<revision>/`, whose files are links to `../../blobs/`)
 * that repository's blobs folder.
 */
async function linkRoots(dir: string): Promise<string[]> {
  const real = await realpath(dir);
  const roots = [real];
  if (basename(dirname(real)) === 'snapshots' && basename(dirname(dirname(real))).startsWith('models--')) {
    roots.push(join(dirname(dirname(real)), 'blobs'));
  }
  return roots;
}

/** Open `path` (what it is: "the tokenizer", "a weight file") for reading, after the checks above. */
export async function openInput(path: string, what: string, rules: InputRules): Promise<{ handle: FileHandle; size: number }> {
  // a refusal of the checkpoint's own file is the checkpoint's problem; of a named file, the caller's
  const refused: ErrorCode = rules.within === null ? 'BAD_ARGUMENT' : 'BAD_CHECKPOINT';
  let link;
  try {
    link = await lstat(path);
  } catch (e) {
    throw ioError(path, e, `read ${what}`);
  }
  if (link.isSymbolicLink() && rules.within !== null && !rules.followSymlinks) {
    let target: string;
    let roots: string[];
    try {
      target = await realpath(path);
      roots = await linkRoots(rules.within);
    } catch (e) {
      throw ioError(path, e, `read ${what}`);
    }
    if (!roots.some((r) => isInside(target, r))) {
      throw new BimambaError(refused, `${path} (${what}) is a symbolic link to ${target}, outside the checkpoint directory: refused (--follow-symlinks reads it anyway)`);
    }
  }
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; no effect on a regular file
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw ioError(path, e, `read ${what}`);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new BimambaError(refused, `${path} (${what}) is ${kindOf(s)}, not a regular file`);
    if (rules.maxBytes !== undefined && s.size > rules.maxBytes) {
      throw new BimambaError(refused, `${path} (${what}) is ${s.size} bytes, over the limit of ${rules.maxBytes}`);
    }
    return { handle, size: s.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** The whole of a file checked by openInput (rules.maxBytes should be set): at most the size it had when opened. */
export async function readInput(path: string, what: string, rules: InputRules): Promise<Buffer> {
  const { handle, size } = await openInput(path, what, rules);
  try {
    const out = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(out, done, size - done, done);
      if (bytesRead === 0) break; // the file shrank meanwhile: what is there
      done += bytesRead;
    }
    return out.subarray(0, done);
  } catch (e) {
    throw e instanceof BimambaError ? e : ioError(path, e, `read ${what}`);
  } finally {
    await handle.close();
  }
}
