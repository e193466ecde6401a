// Synthetic .bimamba models for the benchmarks: the real shapes of Bi-Mamba 780M / 1.3B / 2.7B (a
// Mamba-2 whose in_proj and out_proj are 1-bit) and a full-precision f32 Mamba-2 of the 780M shape,
// with random values in the ranges trained models have. They are written straight in the .bimamba
// format (what `bimamba convert` would write from a checkpoint of these shapes), one tensor at a time,
// and cached: a file is only written when missing. The benchmarks (bench/) and the thread tests use them.
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeBimambaFile, type BimambaTensor } from '../../src/convert/bimamba-writer.js';
import { validateModelConfig, type ModelConfig } from '../../src/format/config.js';
import { f32ToBf16, f32ToF16 } from '../../src/format/dtype.js';
import { packedShape } from '../../src/format/onebit.js';
import { headScaleName, headTensors, modelTensorSpecs, type HeadStorage, type ModelDtype } from '../../src/format/tensors.js';
import { bits32 } from './rng.js';

export interface SyntheticModel {
  /** Name in the results: bimamba-780m, mamba2-780m-f32, ... */
  name: string;
  d_model: number;
  n_layer: number;
  /** 1-bit in_proj / out_proj (Bi-Mamba), or f32 (the full-precision comparison). */
  binarized: boolean;
  /** Embedding / tied LM head storage. */
  head: HeadStorage;
  /** Parameters of the full-precision model this shape is (for labels). */
  params: string;
}

const VOCAB = 32000; // the LLaMA-2 tokenizer of the Bi-Mamba releases
const PAD_VOCAB = 16;

export const MODELS: Record<string, SyntheticModel> = {
  'bimamba-780m': { name: 'bimamba-780m', d_model: 1536, n_layer: 48, binarized: true, head: 'int8', params: '780M' },
  'bimamba-780m-q4': { name: 'bimamba-780m-q4', d_model: 1536, n_layer: 48, binarized: true, head: 'q4', params: '780M' },
  'bimamba-1.3b': { name: 'bimamba-1.3b', d_model: 2048, n_layer: 48, binarized: true, head: 'int8', params: '1.3B' },
  'bimamba-2.7b': { name: 'bimamba-2.7b', d_model: 2560, n_layer: 64, binarized: true, head: 'int8', params: '2.7B' },
  'mamba2-780m-f32': { name: 'mamba2-780m-f32', d_model: 1536, n_layer: 48, binarized: false, head: 'f32', params: '780M' },
};

/** The normalised config of a synthetic model (Mamba-2 defaults of the official releases). */
export function syntheticConfig(m: SyntheticModel): ModelConfig {
  const d_inner = 2 * m.d_model, headdim = 64;
  return validateModelConfig({
    arch: 'mamba2', binarized: m.binarized, d_model: m.d_model, n_layer: m.n_layer,
    vocab_size: VOCAB, padded_vocab_size: Math.ceil(VOCAB / PAD_VOCAB) * PAD_VOCAB,
    d_inner, d_state: 128, d_conv: 4, conv_bias: true, in_proj_bias: false, out_proj_bias: false,
    dt_rank: 0, headdim, nheads: d_inner / headdim, ngroups: 1, norm_before_gate: false,
    time_step_limit: [0, null], norm_eps: 1e-5, mixer_norm_eps: 1e-5, tie_embeddings: true,
    bos_token_id: 1, eos_token_id: 2, pad_token_id: null, source: m.binarized ? 'bimamba' : 'mamba_ssm',
  });
}

/** n f32 uniform in [lo, hi). */
function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const next = bits32(seed), out = new Float32Array(n), scale = (hi - lo) / 2 ** 32;
  for (let i = 0; i < n; i++) out[i] = lo + next() * scale;
  return out;
}

/** Random sign bits in the tile layout; bits of padding rows and columns stay 0 as the format wants. */
function randomBits(shape: number[], N: number, K: number, seed: number): Uint8Array {
  const bytes = shape.reduce((a, b) => a * b, 1);
  const words = new Uint32Array(Math.ceil(bytes / 4));
  const next = bits32(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  const out = new Uint8Array(words.buffer, 0, bytes);
  const { Np, Kp } = packedShape(N, K);
  if (Np !== N || Kp !== K) {
    for (let i = 0; i < bytes; i++) {
      const row = 16 * Math.floor(i / (16 * (Kp / 8))) + (i % 16);
      const col = 8 * (Math.floor(i / 16) % (Kp / 8));
      if (row >= N) out[i] = 0;
      else if (col + 4 > K) out[i] &= col >= K ? 0 : (1 << (K - col)) - 1; // low nibble: columns col..col+3
      else if (col + 8 > K) out[i] &= 0x0f | (((1 << (K - col - 4)) - 1) << 4);
    }
  }
  return out;
}

const asBytes = (a: Float32Array | Int8Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The bytes of one tensor, from its name. */
function tensorBytes(name: string, shape: number[], dtype: ModelDtype, cfg: ModelConfig, seed: number): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const f32 = (lo: number, hi: number) => asBytes(uniform(n, lo, hi, seed));
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  if (name === 'embedding') {
    if (dtype === 'U8') { // 4-bit groups: any byte is 8 valid values
      const next = bits32(seed), q = new Uint8Array(n);
      for (let i = 0; i < n; i++) q[i] = next() & 0xff;
      return q;
    }
    if (dtype === 'I8') {
      const next = bits32(seed), q = new Int8Array(n);
      for (let i = 0; i < n; i++) q[i] = (next() % 255) - 127;
      return asBytes(q);
    }
    const values = uniform(n, -0.05, 0.05, seed);
    return dtype === 'F16' ? asBytes(Uint16Array.from(values, f32ToF16)) : asBytes(values);
  }
  if (name === headScaleName('embedding')) {
    return dtype === 'BF16' ? asBytes(new Uint16Array(n).fill(f32ToBf16(0.05 / 8))) : asBytes(new Float32Array(n).fill(0.05 / 127));
  }
  if (leaf === 'bits') {
    const isIn = name.includes('in_proj');
    const N = isIn ? 2 * cfg.d_inner + 2 * cfg.ngroups * cfg.d_state + cfg.nheads : cfg.d_model;
    return randomBits(shape, N, isIn ? cfg.d_model : cfg.d_inner, seed);
  }
  if (leaf === 'alpha') return f32(0.01, 0.05); // Bi-Mamba's learned wscale
  if (leaf === 'beta') return f32(-0.002, 0.002); // and wbias
  if (name.endsWith('proj.weight')) return f32(-0.05, 0.05); // full-precision projections
  if (name.endsWith('conv1d.weight')) return f32(-0.5, 0.5);
  if (name.endsWith('conv1d.bias')) return f32(-0.1, 0.1);
  if (leaf === 'dt_bias') return f32(-4.5, -2);
  if (leaf === 'A_log') return f32(0, 2.8);
  return f32(0.9, 1.1); // norms and D
}

/** Write `m` to `path` unless it is there already, with `tokenizer` (tokenizer.json text) if given; returns the file's size in bytes. */
export async function ensureSyntheticModel(m: SyntheticModel, path: string, onProgress?: (message: string) => void, tokenizer?: string): Promise<number> {
  if (existsSync(path)) return (await stat(path)).size;
  onProgress?.(`writing ${path} (random ${m.binarized ? '1-bit' : 'f32'} weights at the ${m.params} shape)`);
  const cfg = syntheticConfig(m);
  const tensors: BimambaTensor[] = [];
  for (const s of modelTensorSpecs(cfg)) {
    const plans = s.category === 'head' ? headTensors(s, m.head) : [{ name: s.name, dtype: s.dtypes[0], shape: s.shape }];
    for (const p of plans) {
      const seed = tensors.length + 1;
      tensors.push({ ...p, bytes: () => tensorBytes(p.name, p.shape, p.dtype as ModelDtype, cfg, seed) });
    }
  }
  const source = { synthetic: m.name, binarize: m.binarized ? 'bimamba' : 'none', dtype: 'f32', head: m.head };
  await mkdir(dirname(path), { recursive: true });
  return writeBimambaFile(path, { config: cfg, source, tokenizer, tensors });
}
