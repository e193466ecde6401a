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
/** The fast path's stated tolerance on whole models: logits within this of the exact path's largest |logit|. */
export const LOGIT_TOLERANCE = 5e-3;

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
  const tag = [opts.dtype ?? 'f32', opts.head ?? 'f32', opts.tokenizer ? 'tok' : 'notok', opts.binarize ?? 'fp'].join('-');
  const out = join(dir, `${name}-${tag}-${process.pid}.bimamba`);
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

/**
 * A byte-level BPE tokenizer.json with the 256 byte tokens and no merges: every byte is one token,
 * so any text encodes inside a fixture's 1000-token vocabulary, multi-byte characters as several tokens.
 */
export function byteTokenizerJson(): string {
  // GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100 onwards.
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let extra = 0;
  for (let b = 0; b < 256; b++) vocab[String.fromCharCode(printable(b) ? b : 256 + extra++)] = b;
  return JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { ...vocab, '<|endoftext|>': 256 }, merges: [] },
  });
}

/** A fixture converted with the byte tokenizer embedded, loaded. */
export async function loadWithByteTokenizer(name = 'bimamba-tiny') {
  const { writeFileSync } = await import('node:fs');
  const tokPath = join(tmpdir(), `bimamba-byte-tokenizer-${process.pid}.json`);
  writeFileSync(tokPath, byteTokenizerJson());
  const { loadModel } = await import('../../src/model/model.js');
  return loadModel(await convertFixture(name, { tokenizer: tokPath }), { wasm: WASM });
}
