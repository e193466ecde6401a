// The reference fixtures in ../shared/fixtures: converted checkpoints and HF transformers' outputs.
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCheckpoint, type ConvertOptions } from '../../src/convert/convert.js';
import { parseSafetensorsHeader } from '../../src/format/safetensors.js';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const MODEL_FIXTURES = ['mamba1-tiny-hf', 'mamba1-tiny-ssm', 'mamba2-tiny-hf', 'bimamba-tiny'] as const;
export const WASM = fileURLToPath(new URL('../../dist/bimamba.wasm', import.meta.url));

export interface Expected {
  inputIds: number[];
  logits: Float32Array; // [T, V]
  V: number;
  greedyPrompt: number[];
  greedyTokens: number[];
}

/** Read expected.safetensors (I64 ids, F32 logits). */
export function readExpected(name: string): Expected {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, name, 'expected.safetensors')));
  const h = parseSafetensorsHeader(bytes, { fileSize: bytes.length });
  const get = (n: string) => {
    const t = h.tensors.find((x) => x.name === n)!;
    return { t, data: bytes.slice(h.dataStart + t.begin, h.dataStart + t.end) };
  };
  const ids = (n: string) => Array.from(new BigInt64Array(get(n).data.buffer), Number);
  const logits = get('logits');
  return {
    inputIds: ids('input_ids'),
    logits: new Float32Array(logits.data.buffer),
    V: logits.t.shape[1],
    greedyPrompt: ids('greedy_prompt'),
    greedyTokens: ids('greedy_tokens'),
  };
}

/** Convert a fixture's checkpoint into a temporary .bimamba file; returns its path. */
export async function convertFixture(name: string, opts: ConvertOptions = {}): Promise<string> {
  const dir = join(tmpdir(), 'bimamba-tests');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}-${opts.dtype ?? 'f32'}-${opts.head ?? 'f32'}-${process.pid}.bimamba`);
  await convertCheckpoint(join(FIXTURES, name, 'checkpoint'), out, { onWarning: () => {}, ...opts });
  return out;
}

/** max |a - b| and max |b|. */
export function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}
