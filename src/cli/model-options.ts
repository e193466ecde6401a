// The options every command that runs a model shares: which file, its tokenizer, checksums, threads,
// exact kernels, the state type.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { BimambaError } from '../errors.js';
import { loadModel, type Model } from '../model/model.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { defaultModelPath } from './default-model.js';
import { cachedModelPath } from './cached-model.js';
import { checkFile, fileError } from './files.js';
import { toStderr } from './terminal.js';

export interface ModelFlags {
  model?: string;
  tokenizer?: string;
  verify: boolean;
  threads: 'auto' | number;
  exact?: boolean;
  stateType?: 'f32' | 'bf16';
  activationBits?: '8' | '12';
}

/** 'auto' or a positive integer; more threads than cores only slow loading and decoding, so they are cut to the cores. */
function parseThreads(v: string): 'auto' | number {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${v}' is neither 'auto' nor a positive integer`);
  const cores = availableParallelism();
  if (n > cores) {
    toStderr(`warning: --threads ${n} is more than the ${cores} cores of this machine; using ${cores}\n`);
    return cores;
  }
  return n;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <file>', 'the .bimamba model file, or the name of one `bimamba pull` cached (default: the built-in model)')
    .option('--tokenizer <file>', "a tokenizer.json or tokenizer.model to use in place of the model file's (for a file without one)")
    .option('--threads <n>', "threads for the big kernels: 'auto' or a number up to the core count", parseThreads, 'auto')
    .option('--exact', 'run the exact f32 kernels instead of the fast ones')
    .addOption(new Option('--state-type <type>', 'how sessions store the SSM state (default: bf16, f32 with --exact)').choices(['f32', 'bf16']))
    .addOption(new Option('--activation-bits <bits>', "bits of the 1-bit layers' lookup tables on the fast path (default: 12)").choices(['8', '12']))
    .option('--no-verify', "skip checking the file's checksums while loading");
}

/** The model file the flags name (or the built-in one), checked to be a file before anything loads. */
export async function modelPath(o: ModelFlags): Promise<string> {
  const path = o.model ?? defaultModelPath();
  const cached = o.model === undefined ? null : await cachedModelPath(o.model);
  if (cached) return cached;
  await checkFile(path, 'a .bimamba file');
  return path;
}

/** The --tokenizer file, loaded (a wrong one fails here, before the model loads). */
export async function tokenizerFromFlags(o: ModelFlags): Promise<Tokenizer | undefined> {
  if (o.tokenizer === undefined) return undefined;
  await checkFile(o.tokenizer, 'a tokenizer.json or tokenizer.model');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(o.tokenizer));
  } catch (e) {
    throw fileError(o.tokenizer, e);
  }
  try {
    return loadTokenizer(bytes);
  } catch (e) {
    throw new BimambaError('BAD_FORMAT', `--tokenizer ${o.tokenizer}: ${(e as Error).message}`, { cause: e });
  }
}

export async function loadModelFromFlags(o: ModelFlags): Promise<Model> {
  const tokenizer = await tokenizerFromFlags(o);
  return loadModel(await modelPath(o), { verify: o.verify, threads: o.threads, exact: o.exact ?? false, stateType: o.stateType, tokenizer, activationBits: o.activationBits === '8' ? 8 : 12 });
}
