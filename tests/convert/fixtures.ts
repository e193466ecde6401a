// Where the shared reference fixtures are, from this file's location (the project root's ../shared).
import { fileURLToPath } from 'node:url';

export const FIXTURES = ['bimamba-tiny', 'mamba1-tiny-hf', 'mamba1-tiny-ssm', 'mamba2-tiny-hf'] as const;

export function checkpointDir(name: string): string {
  return fileURLToPath(new URL(`../../../shared/fixtures/${name}/checkpoint`, import.meta.url));
}

export function tokenizerPath(name: 'llama2' | 'gpt-neox-20b'): string {
  return fileURLToPath(new URL(`../../../shared/data/tokenizers/${name}.tokenizer.json`, import.meta.url));
}
