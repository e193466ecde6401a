// `bimamba convert`: a checkpoint directory in, one .bimamba file out (Node).
// 1. read config.json (or --config) and normalise it, or infer the config from the tensor shapes when
//    there is none (infer-config.ts); index the tensors under normalised names;
// 2. plan the output (every tensor the config implies, with its dtype) and check that each source
//    tensor exists with the right shape, before anything is written;
// 3. write the file tensor by tensor, reading, converting and dropping one source tensor at a time,
//    so that a model larger than memory converts too.
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { BimambaError } from '../errors.js';
import { checkSupported, inProjRows, validateModelConfig, type ModelConfig } from '../format/config.js';
import { float32Bytes, toFloat16Bytes, toFloat32 } from '../format/dtype.js';
import { DTYPE_BYTES } from '../format/safetensors.js';
import { headTensors, modelTensorSpecs, type HeadStorage, type ModelDtype, type TensorSpec } from '../format/tensors.js';
import { binarizeBiMamba, binarizePtb, type OneBitWeight } from './binarize.js';
import { writeBimambaFile, type BimambaTensor } from './bimamba-writer.js';
import { checkFiniteInput, checkFiniteOutput } from './finite.js';
import { openCheckpoint, type StoredTensor } from './checkpoint.js';
import { normalizeConfig, type ConfigDraft, type Layout } from './config.js';
import { formatInferred, inferConfig, type InferredValue } from './infer-config.js';
import { checkpointName, normaliseTensorName } from './names.js';
import { quantizeRowsInt8, quantizeRowsQ4 } from './quantize.js';
import { fillSpecialTokens, tokenizerSize } from './special-tokens.js';
import { chatTemplateFor } from './chat-template.js';

export interface ConvertOptions {
  /** Full-precision weights other than the head: f32 (default) or f16. */
  dtype?: 'f32' | 'f16';
  /** Embedding / LM head: f32 (default), f16, int8 with a per-row scale, or q4: 4-bit groups of 32 columns with a bf16 scale each. */
  head?: HeadStorage;
  /** Binarize in_proj / out_proj of a full-precision checkpoint post-training. */
  binarize?: 'ptb';
  /** A tokenizer.json or SentencePiece tokenizer.model to embed, instead of the one beside the weights. */
  tokenizer?: string;
  /** A Jinja chat template file to store, instead of tokenizer_config.json's `chat_template`. */
  chatTemplate?: string;
  /** A config file (config.json, or the Bi-Mamba release's mamba_config/*.json) instead of the folder's config.json. */
  config?: string;
  /** Called with each config value inferred from the tensor shapes (when there is no config file). */
  onInfo?: (message: string) => void;
  /** Called after each tensor is written: bytes of tensor data written so far, and in all. */
  onProgress?: (done: number, total: number, tensor: string) => void;
  onWarning?: (message: string) => void;
  /** Read files of the checkpoint directory that are symbolic links out of it (default: refused). */
  followSymlinks?: boolean;
}

export interface ConvertResult {
  config: ModelConfig;
  /** Size of the written file in bytes. */
  fileBytes: number;
  warnings: string[];
  /** The config values read off the tensor shapes, when there was no config file; else null. */
  inferred: InferredValue[] | null;
}

const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'];

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function checkOptions(o: ConvertOptions): void {
  if (o.dtype !== undefined && o.dtype !== 'f32' && o.dtype !== 'f16') throw new BimambaError('BAD_ARGUMENT', `--dtype must be f32 or f16, got ${JSON.stringify(o.dtype)}`);
  if (o.head !== undefined && !['f32', 'f16', 'int8', 'q4'].includes(o.head)) throw new BimambaError('BAD_ARGUMENT', `--head must be f32, f16, int8 or q4, got ${JSON.stringify(o.head)}`);
  if (o.binarize !== undefined && o.binarize !== 'ptb') throw new BimambaError('BAD_ARGUMENT', `--binarize must be ptb, got ${JSON.stringify(o.binarize)}`);
}

/** The checkpoint's tensors under normalised names; the ones the model has no use for are reported. */
function indexTensors(all: Map<string, StoredTensor>, warn: (m: string) => void): Map<string, { key: string; tensor: StoredTensor }> {
  const byName = new Map<string, { key: string; tensor: StoredTensor }>();
  for (const [key, tensor] of all) {
    const name = normaliseTensorName(key);
    if (name === null) {
      warn(`ignoring tensor "${key}": not part of a Mamba model`);
      continue;
    }
    const other = byName.get(name);
    if (other) throw new BimambaError('BAD_CHECKPOINT', `tensors "${other.key}" and "${key}" are the same model tensor`);
    byName.set(name, { key, tensor });
  }
  return byName;
}

/** Decide what config.json alone cannot: padded vocabulary (the embedding's rows), binarization, source. */
function finishConfig(draft: ConfigDraft, layout: Layout, tensors: Map<string, { key: string; tensor: StoredTensor }>, opts: ConvertOptions): ModelConfig {
  const embedding = tensors.get('embedding');
  if (!embedding) throw new BimambaError('BAD_CHECKPOINT', `tensor "${checkpointName('embedding', layout)}" (the embedding) is missing`);
  const padded = Math.ceil(draft.vocab_size / draft.pad_vocab_size_multiple) * draft.pad_vocab_size_multiple;
  const shape = embedding.tensor.shape;
  if (!sameShape(shape, [padded, draft.d_model])) {
    throw new BimambaError('BAD_CHECKPOINT', `tensor "${embedding.key}" has shape [${shape}], but config.json implies [${padded}, ${draft.d_model}]` +
      (padded !== draft.vocab_size ? ` (vocab_size ${draft.vocab_size} padded to a multiple of ${draft.pad_vocab_size_multiple})` : ''));
  }
  const biMamba = tensors.has('layers.0.in_proj.wscale');
  if (biMamba && opts.binarize) throw new BimambaError('BAD_ARGUMENT', '--binarize ptb: this is a Bi-Mamba checkpoint, already binarized (it has wscale/wbias)');
  const { pad_vocab_size_multiple: _, ...rest } = draft;
  return validateModelConfig({
    ...rest,
    binarized: biMamba || opts.binarize === 'ptb',
    padded_vocab_size: padded,
    source: biMamba ? 'bimamba' : layout,
  });
}

/** Plan every output tensor, checking its sources; nothing is read yet. */
function planOutputs(config: ModelConfig, layout: Layout, tensors: Map<string, { key: string; tensor: StoredTensor }>, opts: ConvertOptions): { outputs: BimambaTensor[]; used: Set<string> } {
  const used = new Set<string>();
  /** The source tensor for `name`, checked against the shapes it may have. */
  const source = (name: string, ...shapes: number[][]): { key: string; tensor: StoredTensor } => {
    const found = tensors.get(name);
    if (!found) throw new BimambaError('BAD_CHECKPOINT', `tensor "${checkpointName(name, layout)}" is missing (the config implies shape [${shapes[0]}])`);
    if (!shapes.some((s) => sameShape(found.tensor.shape, s))) {
      throw new BimambaError('BAD_CHECKPOINT', `tensor "${found.key}" has shape [${found.tensor.shape}], but the config implies [${shapes[0]}]`);
    }
    if (!FLOAT_DTYPES.includes(found.tensor.dtype)) throw new BimambaError('BAD_CHECKPOINT', `tensor "${found.key}" has dtype ${found.tensor.dtype}; expected a floating-point type`);
    used.add(name);
    return found;
  };
  const readF32 = async (s: { key: string; tensor: StoredTensor }) => {
    const values = toFloat32(await s.tensor.read(), s.tensor.dtype, s.key);
    checkFiniteInput(values, s.tensor.shape, s.key);
    return values;
  };
  const encode = (values: Float32Array, dtype: ModelDtype) => (dtype === 'F16' ? toFloat16Bytes(values) : float32Bytes(values));

  const weightDtype: ModelDtype = opts.dtype === 'f16' ? 'F16' : 'F32';
  const outputs: BimambaTensor[] = [];
  for (const spec of modelTensorSpecs(config)) {
    if (spec.category === 'head') outputs.push(...headOutputs(spec, source(spec.name, spec.shape), readF32, opts.head ?? 'f32'));
    else if (spec.category === 'onebit') outputs.push(...oneBitOutputs(spec, config, source, readF32));
    else if (spec.name.endsWith('.alpha') || spec.name.endsWith('.beta')) continue; // written by oneBitOutputs
    else {
      const dtype = spec.dtypes.includes(weightDtype) ? weightDtype : 'F32';
      const shapes = spec.name.endsWith('conv1d.weight') ? [spec.shape, [spec.shape[0], 1, spec.shape[1]]] : [spec.shape];
      const s = source(spec.name, ...shapes);
      outputs.push({ name: spec.name, dtype, shape: spec.shape, bytes: async () => encode(await readF32(s), dtype) });
    }
  }
  return { outputs, used };
}

type Source = (name: string, ...shapes: number[][]) => { key: string; tensor: StoredTensor };
type ReadF32 = (s: { key: string; tensor: StoredTensor }) => Promise<Float32Array>;

/** Embedding or LM head in f32, f16, int8 plus its per-row scale, or 4-bit groups plus their scales. */
function headOutputs(spec: TensorSpec, s: { key: string; tensor: StoredTensor }, readF32: ReadF32, head: HeadStorage): BimambaTensor[] {
  const [values, scale] = headTensors(spec, head);
  const [rows, cols] = spec.shape;
  if (head === 'f32') return [{ ...values, bytes: async () => float32Bytes(await readF32(s)) }];
  if (head === 'f16') return [{ ...values, bytes: async () => toFloat16Bytes(await readF32(s)) }];
  let scaleBytes: Uint8Array | null = null; // computed with the values, written right after them
  const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [
    {
      ...values,
      bytes: async () => {
        const w = await readF32(s);
        if (head === 'int8') {
          const r = quantizeRowsInt8(w, rows, cols);
          scaleBytes = asBytes(r.scale);
          return asBytes(r.q);
        }
        const r = quantizeRowsQ4(w, rows, cols);
        scaleBytes = asBytes(r.scale);
        return r.packed;
      },
    },
    { ...scale, bytes: async () => scaleBytes! },
  ];
}

/** `.bits`, `.alpha`, `.beta` of one projection, from Bi-Mamba's latent weights and wscale/wbias, or by PTB. */
function oneBitOutputs(spec: TensorSpec, config: ModelConfig, source: Source, readF32: ReadF32): BimambaTensor[] {
  const prefix = spec.name.slice(0, -'.bits'.length); // layers.i.in_proj
  const isIn = prefix.endsWith('in_proj');
  const N = isIn ? inProjRows(config) : config.d_model;
  const K = isIn ? config.d_model : config.d_inner;
  const latent = source(`${prefix}.weight`, [N, K]);
  const bi = config.source === 'bimamba'
    ? { wscale: source(`${prefix}.wscale`, [1, K], [K]), wbias: source(`${prefix}.wbias`, [1, K], [K]) }
    : null;
  let packed: OneBitWeight | null = null;
  return [
    {
      name: spec.name, dtype: 'U8', shape: spec.shape,
      bytes: async () => {
        const w = await readF32(latent);
        packed = bi ? binarizeBiMamba(w, await readF32(bi.wscale), await readF32(bi.wbias), N, K) : binarizePtb(w, N, K);
        return packed.bits;
      },
    },
    { name: `${prefix}.alpha`, dtype: 'F32', shape: [K], bytes: async () => float32Bytes(packed!.alpha) },
    { name: `${prefix}.beta`, dtype: 'F32', shape: [K], bytes: async () => float32Bytes(packed!.beta) },
  ];
}

/** Refuse an output that is one of the inputs (the same path, or another name of the same file): it would be replaced while read. */
async function checkOutputNotInput(outPath: string, inputs: string[]): Promise<void> {
  const out = await stat(outPath).catch(() => null);
  for (const input of inputs) {
    const same = resolve(input) === resolve(outPath) || (out !== null && await stat(input).then((s) => s.dev === out.dev && s.ino === out.ino, () => false));
    if (same) throw new BimambaError('BAD_ARGUMENT', `the output ${outPath} is an input of the conversion (${input}): give another path`);
  }
}

/** Convert the checkpoint in `dir` to the .bimamba file `outPath`. */
export async function convertCheckpoint(dir: string, outPath: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  checkOptions(opts);
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); opts.onWarning?.(m); };
  const ckpt = await openCheckpoint(dir, { tokenizer: opts.tokenizer, config: opts.config, followSymlinks: opts.followSymlinks });
  try {
    await checkOutputNotInput(outPath, ckpt.inputs);
    const tensors = indexTensors(ckpt.tensors, warn);
    let layout: Layout;
    let draft: ConfigDraft;
    let inferred: InferredValue[] | null = null;
    if (ckpt.rawConfig && ckpt.configPath) {
      ({ layout, draft } = normalizeConfig(ckpt.rawConfig, ckpt.configPath));
    } else {
      ({ layout, draft, inferred } = await inferConfig(tensors, ckpt.tokenizerJson ? tokenizerSize(ckpt.tokenizerJson) : null));
      opts.onInfo?.(`no config.json: the config is read off the tensor shapes (mamba_ssm defaults where they cannot tell):`);
      for (const line of formatInferred(inferred)) opts.onInfo?.(`  ${line}`);
    }
    const { bos_token_id, eos_token_id, pad_token_id } = draft;
    for (const [key, id] of Object.entries({ bos_token_id, eos_token_id, pad_token_id })) {
      if (id !== null && id >= draft.vocab_size) throw new BimambaError('BAD_CHECKPOINT', `${ckpt.configPath}: "${key}" is ${id}, past the vocabulary (vocab_size ${draft.vocab_size})`);
    }
    const ids = fillSpecialTokens({ bos_token_id, eos_token_id, pad_token_id }, ckpt.tokenizerJson, ckpt.tokenizerConfig);
    for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
      const id = ids[key];
      if (id !== null && id >= draft.vocab_size) {
        warn(`the tokenizer's ${key.slice(0, 3)} token has id ${id}, past the model's vocabulary of ${draft.vocab_size}: left unset`);
        ids[key] = null;
      }
    }
    const config = finishConfig({ ...draft, ...ids }, layout, tensors, opts);
    checkSupported(config); // before a byte is written
    const { outputs, used } = planOutputs(config, layout, tensors, opts);
    for (const [name, { key }] of tensors) {
      if (!used.has(name) && !(name === 'lm_head' && config.tie_embeddings)) warn(`ignoring tensor "${key}": this config has no use for it`);
    }
    if (!ckpt.tokenizerJson) warn('no tokenizer.json beside the weights and no --tokenizer given: the file will hold no tokenizer');
    else if (tokenizerSize(ckpt.tokenizerJson) > config.vocab_size) {
      warn(`the tokenizer uses ${tokenizerSize(ckpt.tokenizerJson)} token ids but the model's vocabulary has ${config.vocab_size}: is it the right tokenizer?`);
    }

    const source = {
      checkpoint: basename(resolve(dir)), layout, files: ckpt.files,
      config: ckpt.configPath ? basename(ckpt.configPath) : 'inferred from tensor shapes',
      ...(inferred ? { inferred: formatInferred(inferred) } : {}),
      binarize: config.source === 'bimamba' ? 'bimamba' : (opts.binarize ?? 'none'),
      dtype: opts.dtype ?? 'f32', head: opts.head ?? 'f32',
    };
    const chatTemplate = await chatTemplateFor(opts.chatTemplate, ckpt.tokenizerConfig);
    const total = outputs.reduce((sum, o) => sum + o.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[o.dtype], 0);
    let done = 0;
    const fileBytes = await writeBimambaFile(outPath, { config, source, tokenizer: ckpt.tokenizerJson, chatTemplate, tensors: outputs }, (o, bytes) => {
      checkFiniteOutput(bytes, o.dtype, o.shape, o.name);
      done += bytes.length;
      opts.onProgress?.(done, total, o.name);
    });
    return { config, fileBytes, warnings, inferred };
  } finally {
    await ckpt.close();
  }
}
