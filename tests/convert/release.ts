// Checkpoints in the official Bi-Mamba release's form, made here: a folder of torch .bin files holding the
// state dict (mamba_ssm names, Mamba-2, fp32 latent in_proj/out_proj plus wscale/wbias [1, in_features],
// lm_head.weight sharing the embedding's storage as torch.save writes a tied model), no config.json, the
// LLaMA vocabulary of 32000. Random weights at the official shapes scaled down.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { f32Bytes, randomF32, stateDictPickle, torchZip, type PickledTensor } from '../format/torch-bytes.js';

export interface ReleaseShape {
  d_model: number;
  n_layer: number;
  vocab_size: number;
  d_state: number;
  headdim: number;
}

/** The release's mamba_config/bimamba2_*.json for `shape` (it leaves d_state and headdim to mamba_ssm's defaults). */
export function releaseConfigJson(shape: ReleaseShape): Record<string, unknown> {
  return {
    d_model: shape.d_model, d_intermediate: 0, n_layer: shape.n_layer, vocab_size: shape.vocab_size,
    ssm_cfg: { layer: 'Mamba2' }, attn_layer_idx: [], attn_cfg: {}, rms_norm: true, residual_in_fp32: true,
    fused_add_norm: true, pad_vocab_size_multiple: 16, tie_embeddings: true,
  };
}

/** A config.json that spells every size out (for the same checkpoint with its config). */
export function fullConfigJson(shape: ReleaseShape): Record<string, unknown> {
  return { ...releaseConfigJson(shape), ssm_cfg: { layer: 'Mamba2', d_state: shape.d_state, headdim: shape.headdim } };
}

/** The state dict's tensors, name -> [shape, values]. */
export function releaseTensors(shape: ReleaseShape, seed = 1): [string, number[], Float32Array][] {
  const { d_model, n_layer, vocab_size, d_state, headdim } = shape;
  const d_inner = 2 * d_model, nheads = d_inner / headdim, conv = d_inner + 2 * d_state, inRows = 2 * d_inner + 2 * d_state + nheads;
  const out: [string, number[], Float32Array][] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const values = randomF32(dims.reduce((a, b) => a * b, 1), seed++).map((v) => offset + scale * v);
    out.push([name, dims, values]);
  };
  add('backbone.embedding.weight', [vocab_size, d_model], 0.05);
  for (let i = 0; i < n_layer; i++) {
    const p = `backbone.layers.${i}`;
    add(`${p}.mixer.dt_bias`, [nheads], 1, -3);
    add(`${p}.mixer.A_log`, [nheads], 1, 1);
    add(`${p}.mixer.D`, [nheads], 0.1, 1);
    add(`${p}.mixer.in_proj.weight`, [inRows, d_model], 0.1);
    add(`${p}.mixer.in_proj.wscale`, [1, d_model], 0.02, 0.03);
    add(`${p}.mixer.in_proj.wbias`, [1, d_model], 0.002);
    add(`${p}.mixer.conv1d.weight`, [conv, 1, 4], 0.5);
    add(`${p}.mixer.conv1d.bias`, [conv], 0.1);
    add(`${p}.mixer.norm.weight`, [d_inner], 0.1, 1);
    add(`${p}.mixer.out_proj.weight`, [d_model, d_inner], 0.1);
    add(`${p}.mixer.out_proj.wscale`, [1, d_inner], 0.02, 0.03);
    add(`${p}.mixer.out_proj.wbias`, [1, d_inner], 0.002);
    add(`${p}.norm.weight`, [d_model], 0.1, 1);
  }
  add('backbone.norm_f.weight', [d_model], 0.1, 1);
  return out;
}

/** torch.save of some of the tensors; `tiedHead` adds lm_head.weight sharing the embedding's storage. */
export function torchFile(tensors: [string, number[], Float32Array][], tiedHead: boolean): Uint8Array {
  const pickled: PickledTensor[] = [];
  const storages: Record<string, Uint8Array> = {};
  const strides = (dims: number[]) => dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  tensors.forEach(([name, dims, values], i) => {
    const key = String(i);
    pickled.push({ name, storageType: 'FloatStorage', key, numel: values.length, offset: 0, shape: dims, stride: strides(dims) });
    storages[key] = f32Bytes(values);
    if (tiedHead && name === 'backbone.embedding.weight') {
      pickled.push({ name: 'lm_head.weight', storageType: 'FloatStorage', key, numel: values.length, offset: 0, shape: dims, stride: strides(dims) });
    }
  });
  return torchZip(stateDictPickle(pickled), storages, { prefix: 'consolidated' });
}

/**
 * Write a release-form folder: the tensors spread over `files` (file name -> which tensor names it holds,
 * by a test on the name), nothing else.
 */
export async function writeReleaseFolder(dir: string, shape: ReleaseShape, files: Record<string, (name: string) => boolean>, seed = 1): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = releaseTensors(shape, seed);
  for (const [file, holds] of Object.entries(files)) {
    const mine = tensors.filter(([name]) => holds(name));
    await writeFile(join(dir, file), torchFile(mine, mine.some(([name]) => name === 'backbone.embedding.weight')));
  }
}
