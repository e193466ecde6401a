// From a checkpoint's config.json (HF transformers or mamba_ssm) to the normalised ModelConfig.
// Fields a config leaves out take the defaults of the code that wrote it (mamba_ssm's Mamba / Mamba2
// modules, transformers' MambaConfig / Mamba2Config).
import JSON5 from 'json5';
import { BimambaError } from '../errors.js';
import { timeStepLimitProblem, type ModelConfig } from '../format/config.js';
import { checkJsonShape } from '../format/json-shape.js';
import { preview } from '../format/preview.js';

export type Layout = 'hf' | 'mamba_ssm';

/** The config as far as config.json alone decides it; the converter fills in the rest from the tensors. */
export type ConfigDraft = Omit<ModelConfig, 'binarized' | 'padded_vocab_size' | 'source'> & {
  /** mamba_ssm pads the embedding to this multiple; HF checkpoints are not padded (1). */
  pad_vocab_size_multiple: number;
};

/**
 * Parse config.json text. Python writes infinity as a bare `Infinity` (not JSON; JSON5 reads it) and
 * newer transformers as `{"__float__": "Infinity"}`; both come out as numbers.
 */
export function parseConfigJson(text: string, where: string): Record<string, unknown> {
  // JSON5.parse is slow (a 50 MB config took 20 s) and recursive: the size was capped when the file was
  // read (INPUT_LIMITS.config), the nesting and the number of values are capped here, before it runs
  checkJsonShape(text, where, CONFIG_JSON_LIMITS);
  let value: unknown;
  try {
    value = JSON5.parse(text, (_key, v) => {
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.__float__ === 'string') return Number(v.__float__);
      return v;
    });
  } catch (e) {
    throw new BimambaError('BAD_CHECKPOINT', `${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BimambaError('BAD_CHECKPOINT', `${where}: not a JSON object`);
  return value as Record<string, unknown>;
}

/** A config is a flat object with a few small nested ones (ssm_cfg, id2label): a few hundred values. */
const CONFIG_JSON_LIMITS = { maxDepth: 16, maxContainers: 10_000, maxValues: 100_000, json5: true };

/** Typed access to config fields, with defaults and errors that name the field. */
class Fields {
  constructor(private readonly o: Record<string, unknown>, private readonly where: string) {}

  private fail(key: string, what: string): never {
    throw new BimambaError('BAD_CHECKPOINT', `${this.where}: "${key}" ${what}, got ${preview(this.o[key])}`);
  }

  int(key: string, fallback?: number): number {
    const v = this.o[key] ?? fallback;
    if (v === undefined) throw new BimambaError('BAD_CHECKPOINT', `${this.where}: "${key}" is missing`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'must be a positive integer');
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.o[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) this.fail(key, 'must be a positive number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.o[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  /** A token id, or null when absent. */
  id(key: string): number | null {
    const v = this.o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, 'must be a token id');
    return v;
  }

  /** dt_rank / time_step_rank: a number, or "auto" = ceil(d_model / 16). */
  rank(key: string, dModel: number): number {
    const v = this.o[key] ?? 'auto';
    if (v === 'auto') return Math.ceil(dModel / 16);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'must be "auto" or a positive integer');
    return v;
  }

  /** [min, max] with max possibly infinite (stored as null). */
  limit(key: string): [number, number | null] {
    const v = this.o[key] ?? [0, Infinity];
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number' || Number.isNaN(v[0]) || Number.isNaN(v[1])) {
      this.fail(key, 'must be [min, max]');
    }
    const problem = timeStepLimitProblem(v[0], v[1]);
    if (problem) this.fail(key, problem);
    return [v[0], v[1] === Infinity ? null : v[1]];
  }
}

const unsupported = (where: string, what: string) => new BimambaError('UNSUPPORTED', `${where}: ${what}`);

/** Tell the layout from the config's keys. */
export function detectLayout(raw: Record<string, unknown>, where: string): Layout {
  if (typeof raw.model_type === 'string') return 'hf';
  if ('d_model' in raw && 'n_layer' in raw) return 'mamba_ssm';
  throw new BimambaError('BAD_CHECKPOINT', `${where}: neither an HF transformers config (no "model_type") nor a mamba_ssm config (no "d_model"/"n_layer")`);
}

/** Normalise a parsed config.json. Unknown architectures and variants this runtime lacks are UNSUPPORTED. */
export function normalizeConfig(raw: Record<string, unknown>, where: string): { layout: Layout; draft: ConfigDraft } {
  const layout = detectLayout(raw, where);
  return { layout, draft: layout === 'hf' ? fromHf(raw, where) : fromMambaSsm(raw, where) };
}

function fromMambaSsm(raw: Record<string, unknown>, where: string): ConfigDraft {
  const f = new Fields(raw, where);
  const ssmCfg = raw.ssm_cfg ?? {};
  if (typeof ssmCfg !== 'object' || ssmCfg === null || Array.isArray(ssmCfg)) throw new BimambaError('BAD_CHECKPOINT', `${where}: "ssm_cfg" must be an object`);
  const ssm = new Fields(ssmCfg as Record<string, unknown>, `${where}, ssm_cfg`);
  const layer = (ssmCfg as Record<string, unknown>).layer ?? 'Mamba1';
  if (layer !== 'Mamba1' && layer !== 'Mamba2') throw unsupported(where, `unknown architecture: ssm_cfg.layer is ${preview(layer)} (expected "Mamba1" or "Mamba2")`);
  if (Array.isArray(raw.attn_layer_idx) && raw.attn_layer_idx.length > 0) throw unsupported(where, 'hybrid models with attention layers (attn_layer_idx) are not supported');
  if (typeof raw.d_intermediate === 'number' && raw.d_intermediate > 0) throw unsupported(where, 'models with MLP blocks (d_intermediate > 0) are not supported');
  if (raw.rms_norm === false) throw unsupported(where, 'LayerNorm models (rms_norm: false) are not supported');

  const d_model = f.int('d_model');
  const common = {
    d_model,
    n_layer: f.int('n_layer'),
    vocab_size: f.int('vocab_size'),
    pad_vocab_size_multiple: f.int('pad_vocab_size_multiple', 8),
    norm_eps: f.num('norm_epsilon', 1e-5),
    tie_embeddings: f.bool('tie_embeddings', true),
    bos_token_id: f.id('bos_token_id'),
    eos_token_id: f.id('eos_token_id'),
    pad_token_id: f.id('pad_token_id'),
    d_conv: ssm.int('d_conv', 4),
    conv_bias: ssm.bool('conv_bias', true),
    in_proj_bias: ssm.bool('bias', false),
    out_proj_bias: ssm.bool('bias', false),
  };
  const d_inner = ssm.int('expand', 2) * d_model;
  if (layer === 'Mamba1') {
    return {
      ...common, arch: 'mamba1', d_inner, d_state: ssm.int('d_state', 16), dt_rank: ssm.rank('dt_rank', d_model),
      headdim: 0, nheads: 0, ngroups: 0, norm_before_gate: false, time_step_limit: [0, null], mixer_norm_eps: common.norm_eps,
    };
  }
  const headdim = ssm.int('headdim', 64);
  const d_ssm = (ssmCfg as Record<string, unknown>).d_ssm;
  if (d_ssm !== undefined && d_ssm !== null && d_ssm !== d_inner) throw unsupported(where, `ssm_cfg.d_ssm ${d_ssm} differs from d_inner ${d_inner} (a partial SSM is not supported)`);
  if (ssm.bool('rmsnorm', true) === false) throw unsupported(where, 'Mamba-2 without its gated RMSNorm (ssm_cfg.rmsnorm: false) is not supported');
  if (d_inner % headdim !== 0) throw new BimambaError('BAD_CHECKPOINT', `${where}: d_inner ${d_inner} is not a multiple of headdim ${headdim}`);
  return {
    ...common, arch: 'mamba2', d_inner, d_state: ssm.int('d_state', 128), dt_rank: 0,
    headdim, nheads: d_inner / headdim, ngroups: ssm.int('ngroups', 1),
    norm_before_gate: ssm.bool('norm_before_gate', false), time_step_limit: ssm.limit('dt_limit'),
    mixer_norm_eps: 1e-5, // mamba_ssm's RMSNormGated inside Mamba2 uses its default eps
  };
}

function fromHf(raw: Record<string, unknown>, where: string): ConfigDraft {
  const f = new Fields(raw, where);
  const type = raw.model_type;
  if (type !== 'mamba' && type !== 'mamba2') throw unsupported(where, `unknown architecture: model_type ${preview(type)} (expected "mamba" or "mamba2")`);
  if (raw.rms_norm === false) throw unsupported(where, 'models without RMSNorm (rms_norm: false) are not supported');
  const d_model = f.int('hidden_size');
  const expand = f.int('expand', 2);
  const norm_eps = f.num('layer_norm_epsilon', type === 'mamba' ? 1e-5 : 1e-6);
  const common = {
    d_model,
    n_layer: f.int('num_hidden_layers'),
    vocab_size: f.int('vocab_size'),
    pad_vocab_size_multiple: 1,
    norm_eps,
    bos_token_id: f.id('bos_token_id'),
    eos_token_id: f.id('eos_token_id'),
    pad_token_id: f.id('pad_token_id'),
    d_conv: f.int('conv_kernel', 4),
    conv_bias: f.bool('use_conv_bias', true),
    in_proj_bias: f.bool('use_bias', false),
    out_proj_bias: f.bool('use_bias', false),
  };
  if (type === 'mamba') {
    return {
      ...common, arch: 'mamba1', tie_embeddings: f.bool('tie_word_embeddings', true),
      d_inner: f.int('intermediate_size', expand * d_model), d_state: f.int('state_size', 16), dt_rank: f.rank('time_step_rank', d_model),
      headdim: 0, nheads: 0, ngroups: 0, norm_before_gate: false, time_step_limit: [0, null], mixer_norm_eps: norm_eps,
    };
  }
  const headdim = f.int('head_dim', 64);
  const d_inner = expand * d_model;
  const nheads = f.int('num_heads', Math.floor(d_inner / headdim));
  if (nheads * headdim !== d_inner) throw new BimambaError('BAD_CHECKPOINT', `${where}: num_heads ${nheads} x head_dim ${headdim} must equal expand x hidden_size = ${d_inner}`);
  return {
    ...common, arch: 'mamba2', tie_embeddings: f.bool('tie_word_embeddings', false),
    d_inner, d_state: f.int('state_size', 128), dt_rank: 0, headdim, nheads, ngroups: f.int('n_groups', 1),
    // transformers' Mamba2 always gates before its norm, whatever norm_before_gate says.
    norm_before_gate: false,
    time_step_limit: f.limit('time_step_limit'),
    mixer_norm_eps: norm_eps,
  };
}
