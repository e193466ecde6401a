// The tensors of a .bimamba file: their names, shapes and allowed dtypes, all implied by the config.
// The converter plans its output from this list; the loader checks a file against it.
import { convChannels, inProjRows, type ModelConfig } from './config.js';
import { packedShape } from './onebit.js';
import { q4Groups, q4PackedShape } from './q4.js';

export type ModelDtype = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8' | 'I32';

/** What a tensor is, for `bimamba info`'s byte counts. */
export type TensorCategory = 'onebit' | 'full' | 'head';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Dtypes a valid file may use for it; the first is the converter's default. */
  dtypes: ModelDtype[];
  category: TensorCategory;
}

/** Weights that may be F32 or F16 (`--dtype`). */
const WEIGHT: ModelDtype[] = ['F32', 'F16'];
/** Always F32: norms, biases, A_log, D, dt_bias, 1-bit scales. */
const F32: ModelDtype[] = ['F32'];
/** Embedding / LM head: F32, F16, I8 with a per-row scale, or U8: 4-bit groups (`--head`). */
const HEAD: ModelDtype[] = ['F32', 'F16', 'I8', 'U8'];

/** The tensors of a projection stored under `prefix`: full precision (`weight`) or 1-bit (`bits`, `alpha`, `beta`), and a bias. */
export function projectionTensorNames(prefix: string) {
  return { weight: `${prefix}.weight`, bits: `${prefix}.bits`, alpha: `${prefix}.alpha`, beta: `${prefix}.beta`, bias: `${prefix}.bias` };
}

/**
 * The name of every tensor of a .bimamba file (FORMAT.md), the one list: the converter's plan
 * (modelTensorSpecs) and the loader (src/model/weights.ts) both take the names from here.
 */
export const TENSOR_NAMES = {
  embedding: 'embedding',
  lmHead: 'lm_head',
  normF: 'norm_f.weight',
  /** Layer i's tensors; the projections are prefixes (projectionTensorNames). */
  layer(i: number) {
    const p = `layers.${i}`;
    return {
      norm: `${p}.norm.weight`,
      inProj: `${p}.in_proj`,
      convWeight: `${p}.conv1d.weight`,
      convBias: `${p}.conv1d.bias`,
      xProj: `${p}.x_proj`,
      dtProj: `${p}.dt_proj`,
      aLog: `${p}.A_log`,
      D: `${p}.D`,
      dtBias: `${p}.dt_bias`,
      mixerNorm: `${p}.mixer_norm.weight`,
      outProj: `${p}.out_proj`,
    };
  },
} as const;

/** A projection `[N, K]`: full precision, or 1-bit tiles with per-column alpha/beta. */
function projection(prefix: string, N: number, K: number, binarized: boolean, bias: boolean): TensorSpec[] {
  const out: TensorSpec[] = [];
  const names = projectionTensorNames(prefix);
  if (binarized) {
    const { Np, Kp } = packedShape(N, K);
    out.push({ name: names.bits, shape: [Np / 16, Kp / 8, 16], dtypes: ['U8'], category: 'onebit' });
    out.push({ name: names.alpha, shape: [K], dtypes: F32, category: 'full' });
    out.push({ name: names.beta, shape: [K], dtypes: F32, category: 'full' });
  } else {
    out.push({ name: names.weight, shape: [N, K], dtypes: WEIGHT, category: 'full' });
  }
  if (bias) out.push({ name: names.bias, shape: [N], dtypes: F32, category: 'full' });
  return out;
}

/**
 * Every tensor the model needs, in the order the converter writes them. Heads are listed as `[rows,
 * cols]`; how each storage lays them out, with its `.scale`, is `headTensors`.
 */
export function modelTensorSpecs(c: ModelConfig): TensorSpec[] {
  const specs: TensorSpec[] = [{ name: TENSOR_NAMES.embedding, shape: [c.padded_vocab_size, c.d_model], dtypes: HEAD, category: 'head' }];
  const C = convChannels(c);
  for (let i = 0; i < c.n_layer; i++) {
    const n = TENSOR_NAMES.layer(i);
    specs.push({ name: n.norm, shape: [c.d_model], dtypes: F32, category: 'full' });
    specs.push(...projection(n.inProj, inProjRows(c), c.d_model, c.binarized, c.in_proj_bias));
    // conv1d.weight stays F32: the conv kernels read f32 weights (assembly/README.md), and it is tiny.
    specs.push({ name: n.convWeight, shape: [C, c.d_conv], dtypes: F32, category: 'full' });
    if (c.conv_bias) specs.push({ name: n.convBias, shape: [C], dtypes: F32, category: 'full' });
    if (c.arch === 'mamba1') {
      specs.push({ name: projectionTensorNames(n.xProj).weight, shape: [c.dt_rank + 2 * c.d_state, c.d_inner], dtypes: WEIGHT, category: 'full' });
      specs.push({ name: projectionTensorNames(n.dtProj).weight, shape: [c.d_inner, c.dt_rank], dtypes: WEIGHT, category: 'full' });
      specs.push({ name: projectionTensorNames(n.dtProj).bias, shape: [c.d_inner], dtypes: F32, category: 'full' });
      specs.push({ name: n.aLog, shape: [c.d_inner, c.d_state], dtypes: F32, category: 'full' });
      specs.push({ name: n.D, shape: [c.d_inner], dtypes: F32, category: 'full' });
    } else {
      specs.push({ name: n.dtBias, shape: [c.nheads], dtypes: F32, category: 'full' });
      specs.push({ name: n.aLog, shape: [c.nheads], dtypes: F32, category: 'full' });
      specs.push({ name: n.D, shape: [c.nheads], dtypes: F32, category: 'full' });
      specs.push({ name: n.mixerNorm, shape: [c.d_inner], dtypes: F32, category: 'full' });
    }
    specs.push(...projection(n.outProj, c.d_model, c.d_inner, c.binarized, c.out_proj_bias));
  }
  specs.push({ name: TENSOR_NAMES.normF, shape: [c.d_model], dtypes: F32, category: 'full' });
  if (!c.tie_embeddings) specs.push({ name: TENSOR_NAMES.lmHead, shape: [c.padded_vocab_size, c.d_model], dtypes: HEAD, category: 'head' });
  return specs;
}

/** The scale that goes with an I8 or 4-bit `embedding` or `lm_head`. */
export function headScaleName(head: string): string {
  return `${head}.scale`;
}

/** How an embedding / LM head is stored (`--head`). */
export type HeadStorage = 'f32' | 'f16' | 'int8' | 'q4';

/** The head's storage from the dtype of its tensor in a file (null: not a head dtype). */
export function headStorageOf(dtype: string): HeadStorage | null {
  return ({ F32: 'f32', F16: 'f16', I8: 'int8', U8: 'q4' } as const)[dtype as 'F32'] ?? null;
}

/**
 * The tensors that store the head `spec` (`[rows, cols]`) as `storage`: the values, then their scale
 * when there is one. int8: a per-row F32 scale, `W[n, k] = scale[n] * q[n, k]`. q4: U8 `[rows, groups,
 * 16]` of 4-bit groups and a BF16 scale `[rows, groups]`, `W[n, k] = scale[n, k / 32] * q[n, k]`
 * (src/format/q4.ts).
 */
export function headTensors(spec: TensorSpec, storage: HeadStorage): { name: string; dtype: ModelDtype; shape: number[] }[] {
  const [rows, cols] = spec.shape;
  const scale = headScaleName(spec.name);
  switch (storage) {
    case 'f32': return [{ name: spec.name, dtype: 'F32', shape: spec.shape }];
    case 'f16': return [{ name: spec.name, dtype: 'F16', shape: spec.shape }];
    case 'int8': return [{ name: spec.name, dtype: 'I8', shape: spec.shape }, { name: scale, dtype: 'F32', shape: [rows] }];
    case 'q4': return [{ name: spec.name, dtype: 'U8', shape: q4PackedShape(rows, cols) }, { name: scale, dtype: 'BF16', shape: [rows, q4Groups(cols)] }];
  }
}

/**
 * Elements of the model in full precision: what an fp16 checkpoint would hold.
 * 1-bit layers count N*K (their latent weights), not their packed bytes; their alpha/beta and the
 * int8 scales are artefacts of the compression and are not counted.
 */
export function fullPrecisionParams(c: ModelConfig): number {
  let n = 0;
  for (const s of modelTensorSpecs(c)) {
    if (s.category === 'onebit' || s.name.endsWith('.alpha') || s.name.endsWith('.beta')) continue;
    n += s.shape.reduce((a, b) => a * b, 1);
  }
  if (c.binarized) n += c.n_layer * (inProjRows(c) * c.d_model + c.d_model * c.d_inner);
  return n;
}
