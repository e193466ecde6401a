// Opens a checkpoint directory (Node): its config.json (when there is one), its weight files (safetensors,
// sharded or not, or torch .bin files) and the tokenizer beside them (tokenizer.json or SentencePiece's
// tokenizer.model). Tensors are only indexed here; each is read from disk when the converter asks for it.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BimambaError, badFormat } from '../errors.js';
import { checkJsonShape } from '../format/json-shape.js';
import { parseSafetensorsHeader, readHeaderBytes } from '../format/safetensors.js';
import { readTorchCheckpoint, type StoredTensor } from '../format/torch.js';
import type { RandomAccess } from '../format/zip.js';
import { parseSentencePieceModel } from '../tokenizer/sentencepiece-model.js';
import { classifyTokenizerSource, embedSentencePiece } from '../tokenizer/sentencepiece-source.js';
import { parseConfigJson } from './config.js';
import { INPUT_LIMITS, ioError, openInput, readInput, type InputRules } from './input-files.js';

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
  /** Every file read: the config, the tokenizer files, the index, the weights (an output may not be one of them). */
  inputs: string[];
  close(): Promise<void>;
}

interface OpenFile extends RandomAccess {
  close(): Promise<void>;
}

/** A file opened for reads at any offset (a weight file: a regular file, within the checkpoint unless `rules` say otherwise). */
export async function openFile(path: string, rules: InputRules = { within: null }): Promise<OpenFile> {
  const { handle: fh, size } = await openInput(path, 'a weight file', rules);
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(out, done, length - done, offset + done));
        } catch (e) {
          throw ioError(path, e);
        }
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
async function findWeightFiles(dir: string, names: string[], rules: InputRules): Promise<string[]> {
  const has = (n: string) => names.includes(n);
  const fromIndex = async (index: string) => {
    const where = join(dir, index);
    const text = (await readInput(where, 'the index of the weight files', { ...rules, maxBytes: INPUT_LIMITS.index })).toString('utf8');
    checkJsonShape(text, where, INDEX_JSON_LIMITS);
    let map: unknown;
    try {
      map = JSON.parse(text).weight_map;
    } catch (e) {
      throw new BimambaError('BAD_CHECKPOINT', `${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof map !== 'object' || map === null) throw new BimambaError('BAD_CHECKPOINT', `${where}: no "weight_map"`);
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    // a plain file name of this folder: no separator, and not "." or ".." (the folder or its parent)
    const plain = (s: unknown) => typeof s === 'string' && s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\\') && !s.includes('\0');
    if (!shards.every(plain)) throw new BimambaError('BAD_CHECKPOINT', `${where}: shard names must be plain file names`);
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
async function readTokenizer(path: string, rules: InputRules): Promise<string> {
  const bytes = await readInput(path, 'the tokenizer', { ...rules, maxBytes: INPUT_LIMITS.tokenizer });
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
  checkJsonShape(text, path); // the loader's check (tokenizer/index.ts): a file it would refuse is not written
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
  /** Read files of the directory that are symbolic links to places outside it (default: refused). */
  followSymlinks?: boolean;
}

/** The JSON of a sharded index: a flat map of tensor names, so a handful of levels. */
const INDEX_JSON_LIMITS = { maxDepth: 8 };

/** Open `dir`. Without a config.json (and no `config` option) rawConfig is null: the converter infers it. */
export async function openCheckpoint(dir: string, opts: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  const info = await stat(dir).catch((e) => Promise.reject(ioError(dir, e, 'read the checkpoint directory')));
  if (!info.isDirectory()) {
    throw new BimambaError('BAD_ARGUMENT', `${dir} is a file, not a checkpoint directory: give the folder that holds the weights (and config.json, tokenizer.json)`);
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw ioError(dir, e, 'read the checkpoint directory');
  }
  // the folder's own files must stay inside it; a --config or --tokenizer file is the caller's own argument
  const inside: InputRules = { within: dir, followSymlinks: opts.followSymlinks };
  const named: InputRules = { within: null };
  const configPath = opts.config ?? (names.includes('config.json') ? join(dir, 'config.json') : null);
  const inputs: string[] = [];
  let rawConfig: Record<string, unknown> | null = null;
  if (configPath !== null) {
    const rules = { ...(opts.config ? named : inside), maxBytes: INPUT_LIMITS.config };
    const text = (await readInput(configPath, 'the config', rules)).toString('utf8');
    rawConfig = parseConfigJson(text, configPath);
    inputs.push(configPath);
  }

  // the tokenizer first: a bad one then fails before any weight file is open
  const beside = ['tokenizer.json', 'tokenizer.model'].find((n) => names.includes(n));
  const tokenizerFile = opts.tokenizer ?? (beside ? join(dir, beside) : null);
  const tokenizerJson = tokenizerFile ? await readTokenizer(tokenizerFile, opts.tokenizer ? named : inside) : null;
  if (tokenizerFile) inputs.push(tokenizerFile);
  let tokenizerConfig: Record<string, unknown> | null = null;
  if (names.includes('tokenizer_config.json')) {
    const where = join(dir, 'tokenizer_config.json');
    inputs.push(where);
    // a link out or a FIFO is refused like any file of the folder; a malformed one only loses the names it gives
    const text = (await readInput(where, 'the tokenizer config', { ...inside, maxBytes: INPUT_LIMITS.tokenizerConfig })).toString('utf8');
    try {
      checkJsonShape(text, where);
      const parsed: unknown = JSON.parse(text);
      tokenizerConfig = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : null;
    } catch {
      tokenizerConfig = null; // only used to name special tokens; the tokenizer itself is what matters
    }
  }

  const files = await findWeightFiles(dir, names, inside);
  for (const index of ['model.safetensors.index.json', 'pytorch_model.bin.index.json']) if (names.includes(index)) inputs.push(join(dir, index));
  inputs.push(...files.map((f) => join(dir, f)));
  const opened: OpenFile[] = [];
  const tensors = new Map<string, StoredTensor>();
  const fileOf = new Map<string, string>(); // tensor name -> the weight file it came from
  try {
    for (const name of files) {
      const where = join(dir, name);
      const file = await openFile(where, inside).catch((e) => {
        // a weight file the folder's own index names, missing: the checkpoint is incomplete
        const missing = e instanceof BimambaError && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
        throw missing ? new BimambaError('BAD_CHECKPOINT', `cannot open ${where}: the weight file is missing`, { cause: e }) : e;
      });
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
    inputs,
    close: async () => { await Promise.all(opened.map((f) => f.close())); },
  };
}
