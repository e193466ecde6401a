// The model's weights as the graph uses them: pointers into WASM memory, grouped per layer.
// Built from the tensors of a loaded .bimamba file (their names: TENSOR_NAMES, src/format/tensors.ts).
import { BimambaError } from '../errors.js';
import type { BimambaFile, TensorView } from '../format/bimamba.js';
import type { ModelConfig } from '../format/config.js';
import { headScaleName, projectionTensorNames, TENSOR_NAMES } from '../format/tensors.js';
import type { Heap } from '../wasm/heap.js';
import type { Projection } from '../wasm/kernel-set.js';
import { shapesOf } from './shapes.js';

type Ptr = number;

/** How the tied embedding / LM head is stored. */
export interface Head {
  kind: 'f32' | 'f16' | 'i8' | 'q4';
  w: Ptr; // [padded_vocab_size, d_model]; q4: [padded_vocab_size, groups, 16] (src/format/q4.ts)
  scale: Ptr; // int8: [padded_vocab_size] f32; q4: [padded_vocab_size, groups] bf16; else 0
  rows: number;
}

export interface LayerWeights {
  norm: Ptr; // [d_model] RMSNorm before the mixer
  inProj: Projection; // d_model -> d_in_proj
  convW: Ptr; // [C, d_conv]
  convB: Ptr; // [C] (zeros when the model has no conv bias)
  A: Ptr; // -exp(A_log): mamba1 [d_inner, d_state], mamba2 [nheads]
  D: Ptr; // skip: mamba1 [d_inner], mamba2 [nheads]
  outProj: Projection; // d_inner -> d_model
  // Mamba-1
  xProj: Projection | null; // d_inner -> dt_rank + 2*d_state
  dtProj: Projection | null; // dt_rank -> d_inner, with bias
  // Mamba-2
  dtBias: Ptr; // [nheads]
  mixerNorm: Ptr; // [d_inner] gated RMSNorm weight
}

export interface Weights {
  embedding: Head;
  lmHead: Projection; // d_model -> vocab_size (the real vocabulary: padding rows are skipped); the embedding when tied
  normF: Ptr; // [d_model]
  layers: LayerWeights[];
  /** The block holding what is derived at load: A = -exp(A_log) of every layer, and a zero conv bias. */
  derived: Ptr;
}

function need(file: BimambaFile, name: string): TensorView {
  const t = file.tensors.get(name);
  if (!t) throw new BimambaError('BAD_FORMAT', `the model file has no tensor '${name}'`);
  return t;
}

function headFrom(file: BimambaFile, name: string): Head {
  const t = need(file, name);
  const kind = t.dtype === 'F32' ? 'f32' : t.dtype === 'F16' ? 'f16' : t.dtype === 'I8' ? 'i8' : t.dtype === 'U8' ? 'q4' : null;
  if (!kind) throw new BimambaError('BAD_FORMAT', `tensor '${name}' has dtype ${t.dtype}; expected F32, F16, I8 or U8`);
  return { kind, w: t.ptr, scale: kind === 'i8' || kind === 'q4' ? need(file, headScaleName(name)).ptr : 0, rows: t.shape[0] };
}

function projectionFrom(file: BimambaFile, prefix: string, N: number, K: number): Projection {
  const names = projectionTensorNames(prefix);
  const bias = file.tensors.get(names.bias)?.ptr ?? 0;
  const bits = file.tensors.get(names.bits);
  if (bits) {
    return { kind: 'onebit', N, K, bits: bits.ptr, alpha: need(file, names.alpha).ptr, beta: need(file, names.beta).ptr, bias };
  }
  const w = need(file, names.weight);
  if (w.dtype === 'F32') return { kind: 'f32', N, K, w: w.ptr, bias };
  if (w.dtype === 'F16') return { kind: 'f16', N, K, w: w.ptr, bias };
  throw new BimambaError('BAD_FORMAT', `tensor '${names.weight}' has dtype ${w.dtype}; expected F32 or F16`);
}

/** Floats of A per layer: mamba1 [d_inner, d_state], mamba2 [nheads]. */
const aFloats = (cfg: ModelConfig) => (cfg.arch === 'mamba2' ? cfg.nheads : cfg.d_inner * cfg.d_state);

/** Bytes of the block weightsFrom allocates: A of every layer, then zeros standing in for an absent conv bias. */
export function derivedBytes(cfg: ModelConfig): number {
  return 4 * (aFloats(cfg) * cfg.n_layer + shapesOf(cfg).convChannels);
}

/** Gather the graph's weights and compute A = -exp(A_log) once, into a block of its own. */
export function weightsFrom(file: BimambaFile, cfg: ModelConfig, heap: Heap): Weights {
  const { isMamba2, dInProj, convChannels, xProjOut } = shapesOf(cfg);
  const aSize = aFloats(cfg);
  // A of every layer, then zeros standing in for an absent conv bias (kernels always take a bias).
  const derived = heap.alloc(derivedBytes(cfg), 'A = -exp(A_log)');
  const zeros = derived + 4 * aSize * cfg.n_layer;
  heap.f32(zeros, convChannels).fill(0);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < cfg.n_layer; i++) {
    const n = TENSOR_NAMES.layer(i);
    const A = derived + 4 * aSize * i;
    const aLog = heap.f32(need(file, n.aLog).ptr, aSize);
    const a = heap.f32(A, aSize);
    for (let j = 0; j < aSize; j++) a[j] = -Math.exp(aLog[j]);
    layers.push({
      norm: need(file, n.norm).ptr,
      inProj: projectionFrom(file, n.inProj, dInProj, cfg.d_model),
      convW: need(file, n.convWeight).ptr,
      convB: file.tensors.get(n.convBias)?.ptr ?? zeros,
      A,
      D: need(file, n.D).ptr,
      outProj: projectionFrom(file, n.outProj, cfg.d_model, cfg.d_inner),
      xProj: isMamba2 ? null : projectionFrom(file, n.xProj, xProjOut, cfg.d_inner),
      dtProj: isMamba2 ? null : projectionFrom(file, n.dtProj, cfg.d_inner, cfg.dt_rank),
      dtBias: isMamba2 ? need(file, n.dtBias).ptr : 0,
      mixerNorm: isMamba2 ? need(file, n.mixerNorm).ptr : 0,
    });
  }
  const embedding = headFrom(file, TENSOR_NAMES.embedding);
  const head = cfg.tie_embeddings ? embedding : headFrom(file, TENSOR_NAMES.lmHead);
  // the head's rows are row-major, so its first vocab_size rows are the logits worth computing
  const [N, K] = [cfg.vocab_size, cfg.d_model];
  const lmHead: Projection = head.kind === 'i8' || head.kind === 'q4' ? { kind: head.kind, N, K, w: head.w, scale: head.scale, bias: 0 } : { kind: head.kind, N, K, w: head.w, bias: 0 };
  return { embedding, lmHead, normF: need(file, TENSOR_NAMES.normF).ptr, layers, derived };
}
