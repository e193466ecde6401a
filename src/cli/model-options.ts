// The options every command that runs a model shares: which file, checksums, threads, exact kernels,
// the state type.
import { availableParallelism } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadModel, type Model } from '../model/model.js';
import { defaultModelPath } from './default-model.js';
import { checkFile } from './files.js';

export interface ModelFlags {
  model?: string;
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
    process.stderr.write(`warning: --threads ${n} is more than the ${cores} cores of this machine; using ${cores}\n`);
    return cores;
  }
  return n;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <file>', 'the .bimamba model file (default: the built-in model)')
    .option('--threads <n>', "threads for the big kernels: 'auto' or a number up to the core count", parseThreads, 'auto')
    .option('--exact', 'run the exact f32 kernels instead of the fast ones')
    .addOption(new Option('--state-type <type>', 'how sessions store the SSM state (default: bf16, f32 with --exact)').choices(['f32', 'bf16']))
    .addOption(new Option('--activation-bits <bits>', "bits of the 1-bit layers' lookup tables on the fast path (default: 12)").choices(['8', '12']))
    .option('--no-verify', "skip checking the file's checksums while loading");
}

/** The model file the flags name (or the built-in one), checked to be a file before anything loads. */
export async function modelPath(o: ModelFlags): Promise<string> {
  const path = o.model ?? defaultModelPath();
  await checkFile(path, 'a .bimamba file');
  return path;
}

export async function loadModelFromFlags(o: ModelFlags): Promise<Model> {
  return loadModel(await modelPath(o), { verify: o.verify, threads: o.threads, exact: o.exact ?? false, stateType: o.stateType, activationBits: o.activationBits === '8' ? 8 : 12 });
}
