// The options every command that runs a model shares: which file, checksums, threads, exact kernels.
import { type Command, InvalidArgumentError } from 'commander';
import { loadModel, type Model } from '../model/model.js';
import { defaultModelPath } from './default-model.js';

export interface ModelFlags {
  model?: string;
  verify: boolean;
  threads: 'auto' | number;
  exact?: boolean;
}

function parseThreads(v: string): 'auto' | number {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${v}' is neither 'auto' nor a positive integer`);
  return n;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <file>', 'the .bimamba model file (default: the built-in model)')
    .option('--threads <n>', "threads for the big kernels: 'auto' or a number", parseThreads, 'auto')
    .option('--exact', 'run the exact f32 kernels instead of the fast ones')
    .option('--no-verify', "skip checking the file's checksums while loading");
}

export function loadModelFromFlags(o: ModelFlags): Promise<Model> {
  return loadModel(o.model ?? defaultModelPath(), { verify: o.verify, threads: o.threads, exact: o.exact ?? false });
}
