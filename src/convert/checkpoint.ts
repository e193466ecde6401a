// Opens a checkpoint directory (Node): its config.json (when there is one), its weight files (safetensors,
// sharded or not, or torch .bin files) and the tokenizer beside them (tokenizer.json or SentencePiece's
// tokenizer.model). Tensors are only indexed here; each is read from disk when the converter asks for it.
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BimambaError, badFormat } from '../errors.js';
import { parseSafetensorsHeader, readHeaderBytes } from '../format/safetensors.js';
import { readTorchCheckpoint, type StoredTensor } from '../format/torch.js';
import type { RandomAccess } from '../format/zip.js';
import { parseSentencePieceModel } from '../tokenizer/sentencepiece-model.js';
import { classifyTokenizerSource, embedSentencePiece } from '../tokenizer/sentencepiece-source.js';
import { parseConfigJson } from './config.js';

export type { StoredTensor } from '../format/torch.js';

export interface Checkpoint {
  /** The parsed config (config.json, or the file given as `config`); null when the folder has none. */
  rawConfig: Record<string, unknown> | null;
  /** Where rawConfig came from. */
  configPath: string | null;
  /** Every tensor of every weight file, by its name in the checkpoint. */
  tensors: Map<string, StoredTensor>;
  /** Weight files, relative to the directory. */
  files: string[];
  /** The tokenizer as a model file embeds it (tokenizer.json text, or a tokenizer.model's JSON form), if one was found. */
  tokenizerJson: string | null;
  /** tokenizer_config.json, if present: it names the special tokens. */
  tokenizerConfig: Record<string, unknown> | null;
  close(): Promise<void>;
}

interface OpenFile extends RandomAccess {
  close(): Promise<void>;
}

/** A file opened for reads at any offset. */
export async function openFile(path: string): Promise<OpenFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new BimambaError('BAD_CHECKPOINT', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
  const size = (await fh.stat()).size;
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw badFormat(path, `truncated: bytes ${offset}..${offset + length} asked of a ${size}-byte file`);
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/** Index the tensors of a safetensors file. */
export async function readSafetensorsFile(file: RandomAccess, where: string): Promise<Map<string, StoredTensor>> {
  let offset = 0; // the header is read from the start of the file, in order
  const next = (n: number) => file.read((offset += n) - n, n);
  const header = parseSafetensorsHeader(await readHeaderBytes(next, file.size, where), { fileSize: file.size, where });
  const out = new Map<string, StoredTensor>();
  for (const t of header.tensors) {
    out.set(t.name, { dtype: t.dtype, shape: t.shape, read: () => file.read(header.dataStart + t.begin, t.end - t.begin) });
  }
  return out;
}

/** Files in a checkpoint folder that end in .bin but are not weights (HF Trainer's pickled arguments). */
const NOT_WEIGHTS = new Set(['training_args.bin']);

/**
 * Weight files in the order of preference: a sharded index; else every *.safetensors file; else every
 * *.bin file (as the Bi-Mamba release's loader reads a ckpt-<step>/ folder, whatever the files are named).
 */
async function findWeightFiles(dir: string, names: string[]): Promise<string[]> {
  const has = (n: string) => names.includes(n);
  const fromIndex = async (index: string) => {
    const where = join(dir, index);
    let map: unknown;
    try {
      map = JSON.parse(await readFile(where, 'utf8')).weight_map;
    } catch (e) {
      throw new BimambaError('BAD_CHECKPOINT', `${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof map !== 'object' || map === null) throw new BimambaError('BAD_CHECKPOINT', `${where}: no "weight_map"`);
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!shards.every((s) => typeof s === 'string' && !s.includes('/') && !s.includes('\\'))) throw new BimambaError('BAD_CHECKPOINT', `${where}: shard names must be plain file names`);
    return shards as string[];
  };
  if (has('model.safetensors.index.json')) return fromIndex('model.safetensors.index.json');
  const safetensors = names.filter((n) => n.endsWith('.safetensors')).sort();
  if (safetensors.length > 0) return safetensors;
  if (has('pytorch_model.bin.index.json')) return fromIndex('pytorch_model.bin.index.json');
  const bins = names.filter((n) => n.endsWith('.bin') && !NOT_WEIGHTS.has(n)).sort();
  if (bins.length > 0) return bins;
  throw new BimambaError('BAD_CHECKPOINT', `${dir}: no weights found (looked for a sharded index, *.safetensors and *.bin)`);
}

/**
 * Read and minimally check a tokenizer.json, or read and parse a SentencePiece tokenizer.model; returns
 * the text a model file embeds.
 */
async function readTokenizer(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `cannot read the tokenizer ${path}: ${(e as Error).message}`);
  }
  const source = classifyTokenizerSource(bytes);
  if ('sentencepiece' in source) {
    try {
      parseSentencePieceModel(source.sentencepiece);
    } catch (e) {
      if (e instanceof BimambaError) throw new BimambaError(e.code, `${path}: ${e.message}`, { cause: e });
      throw e;
    }
    return embedSentencePiece(source.sentencepiece);
  }
  const text = source.json as string;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badFormat(path, `the tokenizer is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || !('model' in json)) throw badFormat(path, 'not a tokenizer.json (no "model")');
  return text;
}

export interface OpenCheckpointOptions {
  /** A tokenizer.json or tokenizer.model to use instead of the one beside the weights. */
  tokenizer?: string;
  /** A config file to use instead of config.json (the Bi-Mamba release keeps its configs apart from the weights). */
  config?: string;
}

/** Open `dir`. Without a config.json (and no `config` option) rawConfig is null: the converter infers it. */
export async function openCheckpoint(dir: string, opts: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new BimambaError('BAD_CHECKPOINT', `cannot read the checkpoint directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const configPath = opts.config ?? (names.includes('config.json') ? join(dir, 'config.json') : null);
  let rawConfig: Record<string, unknown> | null = null;
  if (configPath !== null) {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch (e) {
      // the folder's own config.json is part of the checkpoint; a --config file is the caller's argument
      throw new BimambaError(opts.config ? 'BAD_ARGUMENT' : 'BAD_CHECKPOINT', `cannot read the config ${configPath}: ${(e as Error).message}`, { cause: e });
    }
    rawConfig = parseConfigJson(text, configPath);
  }

  // the tokenizer first: a bad one then fails before any weight file is open
  const beside = ['tokenizer.json', 'tokenizer.model'].find((n) => names.includes(n));
  const tokenizerFile = opts.tokenizer ?? (beside ? join(dir, beside) : null);
  const tokenizerJson = tokenizerFile ? await readTokenizer(tokenizerFile) : null;
  let tokenizerConfig: Record<string, unknown> | null = null;
  if (names.includes('tokenizer_config.json')) {
    try {
      tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    } catch {
      tokenizerConfig = null; // only used to name special tokens; the tokenizer itself is what matters
    }
  }

  const files = await findWeightFiles(dir, names);
  const opened: OpenFile[] = [];
  const tensors = new Map<string, StoredTensor>();
  const fileOf = new Map<string, string>(); // tensor name -> the weight file it came from
  try {
    for (const name of files) {
      const where = join(dir, name);
      const file = await openFile(where);
      opened.push(file);
      const found = name.endsWith('.safetensors') ? await readSafetensorsFile(file, where) : await readTorchCheckpoint(file, where);
      for (const [key, t] of found) {
        const first = fileOf.get(key);
        if (first !== undefined) throw new BimambaError('BAD_CHECKPOINT', `tensor "${key}" is in two weight files: ${first} and ${name}`);
        fileOf.set(key, name);
        tensors.set(key, t);
      }
    }
  } catch (e) {
    await Promise.all(opened.map((f) => f.close()));
    throw e;
  }

  return {
    rawConfig,
    configPath,
    tensors,
    files,
    tokenizerJson,
    tokenizerConfig,
    close: async () => { await Promise.all(opened.map((f) => f.close())); },
  };
}
