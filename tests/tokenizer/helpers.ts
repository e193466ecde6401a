// Shared by the tokenizer tests: the reference tokenizers and their expected outputs in ../shared.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import { Rng } from '../util/rng.js';

export const TOKENIZER_NAMES = ['gpt-neox-20b', 'llama2'] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

export interface ExpectedCase {
  text: string;
  ids: number[]; // what HF `tokenizers` encodes `text` to, no special tokens added
  decoded: string; // what HF `tokenizers` decodes `ids` to
}

const sharedDir = new URL('../../../shared/', import.meta.url);

export function readShared(relativePath: string): string {
  return readFileSync(fileURLToPath(new URL(relativePath, sharedDir)), 'utf8');
}

export function tokenizerJson(name: TokenizerName): string {
  return readShared(`data/tokenizers/${name}.tokenizer.json`);
}

export function expectedCases(name: TokenizerName): ExpectedCase[] {
  return JSON.parse(readShared(`fixtures/tokenizers/${name}.expected.json`)) as ExpectedCase[];
}

const loaded = new Map<TokenizerName, Tokenizer>();

/** Each reference tokenizer is loaded once per test file (parsing the JSON takes ~100 ms). */
export function referenceTokenizer(name: TokenizerName): Tokenizer {
  let tokenizer = loaded.get(name);
  if (!tokenizer) {
    tokenizer = loadTokenizer(tokenizerJson(name));
    loaded.set(name, tokenizer);
  }
  return tokenizer;
}

/** Push ids one by one through a stream decoder; returns every chunk, the flush last. */
export function streamChunks(tokenizer: Tokenizer, ids: number[]): string[] {
  const stream = tokenizer.createStreamDecoder();
  const chunks = ids.map((id) => stream.push(id));
  chunks.push(stream.flush());
  return chunks;
}


/** Seeded numbers in [0, 1), so generated test data is the same on every run. */
export function seededRandom(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
