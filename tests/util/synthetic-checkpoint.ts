// Random-valued checkpoints in the official Bi-Mamba release layout (mamba_ssm names, Mamba-2, fp16
// latent in_proj/out_proj weights with wscale/wbias [1, in_features], tied embeddings) at any size: the
// converter's tests use small ones, and scripts/make-synthetic.ts writes the paper's sizes to measure
// conversion and file sizes without the real weights.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsWriter } from '../../src/convert/safetensors-writer.js';
import { f32ToF16 } from '../../src/format/dtype.js';
import type { TensorPlan } from '../../src/format/safetensors.js';
import { bits32 } from './rng.js';

export interface SyntheticSize {
  d_model: number;
  n_layer: number;
  vocab_size: number;
  /** Mamba-2 fields; the defaults are the official models'. */
  d_state?: number;
  headdim?: number;
}

/** n random halves of magnitude 2^-7 .. 2^-3 and random sign; a fraction `zeros` of them exactly 0. */
function randomLatentF16(n: number, seed: number, zeros: number): Uint8Array {
  const next = bits32(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const r = next();
    out[i] = (r & 0x83ff) | ((8 + ((r >>> 10) % 5)) << 10);
    if (zeros > 0 && (r >>> 16) / 65536 < zeros) out[i] = 0;
  }
  return new Uint8Array(out.buffer);
}

/** n halves uniform in [lo, hi). */
function uniformF16(n: number, seed: number, lo: number, hi: number): Uint8Array {
  const next = bits32(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = f32ToF16(lo + (hi - lo) * (next() / 2 ** 32));
  return new Uint8Array(out.buffer);
}

/**
 * Write one synthetic Bi-Mamba checkpoint into `dir`. `zeros`: fraction of latent weights set to
 * exactly 0 (to exercise the sign(0) rule). Tensors are generated and written one at a time.
 */
export async function writeSyntheticBiMamba(dir: string, size: SyntheticSize, opts: { seed?: number; zeros?: number } = {}): Promise<void> {
  const { d_model, n_layer, vocab_size } = size;
  const d_state = size.d_state ?? 128, headdim = size.headdim ?? 64, ngroups = 1, d_conv = 4, expand = 2, pad = 16;
  const d_inner = expand * d_model, nheads = d_inner / headdim;
  const conv = d_inner + 2 * ngroups * d_state;
  const inRows = 2 * d_inner + 2 * ngroups * d_state + nheads;
  const padded = Math.ceil(vocab_size / pad) * pad;

  const config = {
    d_model, d_intermediate: 0, n_layer, vocab_size,
    ssm_cfg: { layer: 'Mamba2', ...(size.d_state ? { d_state } : {}), ...(size.headdim ? { headdim } : {}) },
    attn_layer_idx: [], attn_cfg: {}, rms_norm: true, residual_in_fp32: true, fused_add_norm: true,
    pad_vocab_size_multiple: pad, tie_embeddings: true,
  };

  // name, shape, and how to make its values
  const tensors: [string, number[], (n: number, seed: number) => Uint8Array][] = [];
  const latent = (n: number, s: number) => randomLatentF16(n, s, opts.zeros ?? 0);
  const around = (lo: number, hi: number) => (n: number, s: number) => uniformF16(n, s, lo, hi);
  tensors.push(['backbone.embedding.weight', [padded, d_model], around(-0.05, 0.05)]);
  for (let i = 0; i < n_layer; i++) {
    const p = `backbone.layers.${i}`;
    tensors.push(
      [`${p}.norm.weight`, [d_model], around(0.9, 1.1)],
      [`${p}.mixer.dt_bias`, [nheads], around(-4.5, -2)],
      [`${p}.mixer.A_log`, [nheads], around(0, 2.8)],
      [`${p}.mixer.D`, [nheads], around(0.9, 1.1)],
      [`${p}.mixer.conv1d.weight`, [conv, 1, d_conv], around(-0.5, 0.5)],
      [`${p}.mixer.conv1d.bias`, [conv], around(-0.1, 0.1)],
      [`${p}.mixer.in_proj.weight`, [inRows, d_model], latent],
      [`${p}.mixer.in_proj.wscale`, [1, d_model], around(0.01, 0.05)],
      [`${p}.mixer.in_proj.wbias`, [1, d_model], around(-0.002, 0.002)],
      [`${p}.mixer.norm.weight`, [d_inner], around(0.9, 1.1)],
      [`${p}.mixer.out_proj.weight`, [d_model, d_inner], latent],
      [`${p}.mixer.out_proj.wscale`, [1, d_inner], around(0.01, 0.05)],
      [`${p}.mixer.out_proj.wbias`, [1, d_inner], around(-0.002, 0.002)],
    );
  }
  tensors.push(['backbone.norm_f.weight', [d_model], around(0.9, 1.1)]);

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const plans: TensorPlan[] = tensors.map(([name, shape]) => ({ name, dtype: 'F16', shape }));
  const writer = await SafetensorsWriter.create(join(dir, 'model.safetensors'), plans, { format: 'pt' });
  let seed = opts.seed ?? 1;
  for (const [name, shape, make] of tensors) await writer.write(name, make(shape.reduce((a, b) => a * b, 1), seed++));
  await writer.finish();
}
