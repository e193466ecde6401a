// The one model configuration every part of the package works from, whatever checkpoint it came from.
// The converter writes it (as JSON) into a .bimamba file; the loader reads and checks it here.
import { BimambaError, badFormat } from '../errors.js';
import { preview } from './preview.js';

export interface ModelConfig {
  arch: 'mamba1' | 'mamba2';
  /** in_proj / out_proj are stored 1-bit (`.bits`, `.alpha`, `.beta`). */
  binarized: boolean;
  d_model: number;
  n_layer: number;
  /** The real vocabulary; logits at and past this index are padding. */
  vocab_size: number;
  /** Rows of the embedding (and of the LM head). */
  padded_vocab_size: number;
  d_inner: number;
  d_state: number;
  d_conv: number;
  conv_bias: boolean;
  in_proj_bias: boolean;
  out_proj_bias: boolean;
  /** Mamba-1 only (0 for Mamba-2). */
  dt_rank: number;
  /** Mamba-2 only (0 for Mamba-1). */
  headdim: number;
  nheads: number;
  ngroups: number;
  /** Mamba-2: normalise before multiplying by silu(z) (false: gate first, then norm). */
  norm_before_gate: boolean;
  /** Mamba-2: clamp of dt after softplus; null stands for +infinity. */
  time_step_limit: [number, number | null];
  /** Eps of the block RMSNorms and of the final norm. */
  norm_eps: number;
  /** Mamba-2: eps of the gated RMSNorm inside the mixer. */
  mixer_norm_eps: number;
  tie_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
  /** Where the weights came from. */
  source: 'hf' | 'mamba_ssm' | 'bimamba';
}

/** Channels of the depthwise conv: x for Mamba-1; x, B and C for Mamba-2. */
export function convChannels(c: ModelConfig): number {
  return c.arch === 'mamba1' ? c.d_inner : c.d_inner + 2 * c.ngroups * c.d_state;
}

/** Output rows of in_proj: [x, z] for Mamba-1; [z, x, B, C, dt] for Mamba-2. */
export function inProjRows(c: ModelConfig): number {
  return c.arch === 'mamba1' ? 2 * c.d_inner : 2 * c.d_inner + 2 * c.ngroups * c.d_state + c.nheads;
}

const bad = (what: string) => badFormat('model config', what);

/**
 * Upper bounds on the sizes, far above any real model: they keep every product of sizes a safe
 * integer and bound the work a hostile config can ask for before its tensors are checked.
 */
export const CONFIG_LIMITS = {
  d_model: 1 << 16, n_layer: 1 << 10, vocab_size: 1 << 22, padded_vocab_size: 1 << 22, d_inner: 1 << 18,
  d_state: 1 << 12, d_conv: 1 << 6, dt_rank: 1 << 16, headdim: 1 << 12, nheads: 1 << 16, ngroups: 1 << 16,
} as const;

function positiveInt(o: Record<string, unknown>, key: keyof typeof CONFIG_LIMITS): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(`"${key}" must be a positive integer, got ${preview(v)}`);
  if (v > CONFIG_LIMITS[key]) throw bad(`"${key}" is ${v}, over the limit of ${CONFIG_LIMITS[key]}`);
  return v;
}

function nonNegativeInt(o: Record<string, unknown>, key: keyof typeof CONFIG_LIMITS): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`"${key}" must be a non-negative integer, got ${preview(v)}`);
  if (v > CONFIG_LIMITS[key]) throw bad(`"${key}" is ${v}, over the limit of ${CONFIG_LIMITS[key]}`);
  return v;
}

function bool(o: Record<string, unknown>, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw bad(`"${key}" must be true or false, got ${preview(v)}`);
  return v;
}

function positiveNumber(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw bad(`"${key}" must be a positive number, got ${preview(v)}`);
  return v;
}

function tokenId(o: Record<string, unknown>, key: string): number | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`"${key}" must be a token id or null, got ${preview(v)}`);
  return v;
}

/** Why [min, max] is no clamp of dt (which is positive after softplus), or null: 0 <= min <= max, min finite. */
export function timeStepLimitProblem(min: number, max: number): string | null {
  if (!Number.isFinite(min) || min < 0) return 'must start at a finite number >= 0';
  if (Number.isNaN(max) || max < min) return 'must end at a number >= its start';
  return null;
}

/**
 * Check a parsed config object field by field and for consistency between fields; return it typed.
 * Every problem is a BAD_FORMAT error naming the field.
 */
export function validateModelConfig(value: unknown): ModelConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not a JSON object');
  const o = value as Record<string, unknown>;
  if (o.arch !== 'mamba1' && o.arch !== 'mamba2') throw bad(`"arch" must be "mamba1" or "mamba2", got ${preview(o.arch)}`);
  if (o.source !== 'hf' && o.source !== 'mamba_ssm' && o.source !== 'bimamba') throw bad(`"source" must be "hf", "mamba_ssm" or "bimamba", got ${preview(o.source)}`);
  const limit = o.time_step_limit;
  if (!Array.isArray(limit) || limit.length !== 2 || typeof limit[0] !== 'number' || !(limit[1] === null || typeof limit[1] === 'number')) {
    throw bad(`"time_step_limit" must be [min, max or null], got ${preview(limit)}`);
  }
  const c: ModelConfig = {
    arch: o.arch,
    binarized: bool(o, 'binarized'),
    d_model: positiveInt(o, 'd_model'),
    n_layer: positiveInt(o, 'n_layer'),
    vocab_size: positiveInt(o, 'vocab_size'),
    padded_vocab_size: positiveInt(o, 'padded_vocab_size'),
    d_inner: positiveInt(o, 'd_inner'),
    d_state: positiveInt(o, 'd_state'),
    d_conv: positiveInt(o, 'd_conv'),
    conv_bias: bool(o, 'conv_bias'),
    in_proj_bias: bool(o, 'in_proj_bias'),
    out_proj_bias: bool(o, 'out_proj_bias'),
    dt_rank: nonNegativeInt(o, 'dt_rank'),
    headdim: nonNegativeInt(o, 'headdim'),
    nheads: nonNegativeInt(o, 'nheads'),
    ngroups: nonNegativeInt(o, 'ngroups'),
    norm_before_gate: bool(o, 'norm_before_gate'),
    time_step_limit: [limit[0], limit[1]],
    norm_eps: positiveNumber(o, 'norm_eps'),
    mixer_norm_eps: positiveNumber(o, 'mixer_norm_eps'),
    tie_embeddings: bool(o, 'tie_embeddings'),
    bos_token_id: tokenId(o, 'bos_token_id'),
    eos_token_id: tokenId(o, 'eos_token_id'),
    pad_token_id: tokenId(o, 'pad_token_id'),
    source: o.source,
  };
  if (c.padded_vocab_size < c.vocab_size) throw bad(`padded_vocab_size ${c.padded_vocab_size} is smaller than vocab_size ${c.vocab_size}`);
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    const id = c[key];
    if (id !== null && id >= c.vocab_size) throw bad(`"${key}" is ${id}, past the vocabulary (vocab_size ${c.vocab_size})`);
  }
  const limitProblem = timeStepLimitProblem(limit[0], limit[1] ?? Infinity);
  if (limitProblem) throw bad(`"time_step_limit" ${limitProblem}, got ${preview(limit)}`);
  if (c.arch === 'mamba1') {
    if (c.dt_rank <= 0) throw bad('a Mamba-1 model needs dt_rank > 0');
  } else {
    if (c.headdim <= 0 || c.nheads <= 0 || c.ngroups <= 0) throw bad('a Mamba-2 model needs headdim, nheads and ngroups > 0');
    if (c.nheads * c.headdim !== c.d_inner) throw bad(`nheads ${c.nheads} x headdim ${c.headdim} must equal d_inner ${c.d_inner}`);
    if (c.nheads % c.ngroups !== 0) throw bad(`nheads ${c.nheads} must be a multiple of ngroups ${c.ngroups}`);
  }
  return c;
}

/**
 * Refuse, as UNSUPPORTED, a valid config this runtime cannot run. Decided once, from the config alone:
 * the converter calls it before writing a file, the loader before reading a weight.
 */
export function checkSupported(cfg: ModelConfig): void {
  if (cfg.arch === 'mamba2' && cfg.norm_before_gate) {
    throw new BimambaError('UNSUPPORTED', 'Mamba-2 with norm_before_gate = true (RMSNorm before the gate) is not supported');
  }
}
