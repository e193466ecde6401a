// The forward pass, top to bottom, as mamba_ssm computes it:
//
//   residual = 0
//   hidden = embedding[ids]                                   [T, d_model]
//   for each layer:
//     residual = residual + hidden                            (f32)
//     hidden   = mixer(RMSNorm(residual))                     Mamba-1 or Mamba-2 mixer below
//   residual = residual + hidden
//   logits   = RMSNorm_f(residual) · embedding^T              (tied head)  [T, vocab]
//
// T tokens go through together (prefill); T = 1 is one decoding step. The recurrent state of each layer
// (conv window and SSM state) is read and updated in place, so feeding tokens in any chunking gives the
// same result.
import type { ModelConfig } from '../format/config.js';
import type { Kernels } from '../wasm/core.js';
import type { Heap } from '../wasm/heap.js';
import { project } from './projection.js';
import type { Scratch } from './scratch.js';
import type { Shapes } from './shapes.js';
import type { LayerWeights, Weights } from './weights.js';

type Ptr = number;

/** Everything the forward pass reads. */
export interface Graph {
  k: Kernels;
  heap: Heap;
  cfg: ModelConfig;
  shapes: Shapes;
  weights: Weights;
  scratch: Scratch;
}

/** One layer's recurrent state: `conv [convChannels, d_conv-1]`, `ssm` (mamba1 `[d_inner, d_state]`, mamba2 `[nheads, headdim, d_state]`). */
export interface LayerState {
  conv: Ptr;
  ssm: Ptr;
}

/** hidden[t] = embedding row ids[t], dequantized to f32. */
function embed(g: Graph, ids: ArrayLike<number>, T: number): void {
  const { k, heap, weights, shapes, scratch } = g;
  const e = weights.embedding;
  const D = shapes.dModel;
  for (let t = 0; t < T; t++) {
    const dst = scratch.hidden + 4 * t * D;
    const id = ids[t];
    if (e.kind === 'f32') heap.f32(dst, D).set(heap.f32(e.w + 4 * id * D, D));
    else if (e.kind === 'f16') k.row_f16_to_f32(dst, e.w + 2 * id * D, D);
    else k.row_i8_to_f32(dst, e.w + id * D, heap.f32(e.scale, e.rows)[id], D);
  }
}

/** The Mamba-2 mixer: hidden[T, d_model] = out_proj(gatedNorm(ssd(conv(x, B, C), dt), z)). Reads `normed`. */
function mamba2Mixer(g: Graph, L: LayerWeights, st: LayerState, T: number): void {
  const { k, cfg, shapes: s, scratch: b } = g;
  const gn = s.ngroups * s.dState;
  project(k, L.inProj, b.proj, b.normed, T, b.onebit); // [T, z | x B C | dt]
  k.copy_cols(b.z, b.proj, T, s.dInProj, 0, s.dInner);
  k.copy_cols(b.convIn, b.proj, T, s.dInProj, s.dInner, s.convChannels);
  k.copy_cols(b.dt, b.proj, T, s.dInProj, s.dInner + s.convChannels, s.nheads);

  if (T === 1) k.conv1d_step(b.convOut, b.convIn, st.conv, L.convW, L.convB, s.convChannels, s.dConv);
  else k.conv1d_seq(b.convOut, b.convIn, st.conv, L.convW, L.convB, T, s.convChannels, s.dConv);
  k.silu(b.convOut, b.convOut, T * s.convChannels);
  k.copy_cols(b.x, b.convOut, T, s.convChannels, 0, s.dInner);
  k.copy_cols(b.B, b.convOut, T, s.convChannels, s.dInner, gn);
  k.copy_cols(b.C, b.convOut, T, s.convChannels, s.dInner + gn, gn);

  k.add_bias(b.dt, L.dtBias, T, s.nheads); // dt = softplus(dt + dt_bias), clamped to the model's limit
  k.softplus(b.dt, b.dt, T * s.nheads);
  const [lo, hi] = cfg.time_step_limit;
  if (lo > 0 || hi !== null) {
    const dt = g.heap.f32(b.dt, T * s.nheads);
    for (let i = 0; i < dt.length; i++) dt[i] = Math.min(Math.max(dt[i], lo), hi ?? Infinity);
  }

  if (T === 1) k.scan2_step(b.y, b.x, b.dt, L.A, b.B, b.C, L.D, st.ssm, s.nheads, s.headdim, s.dState, s.ngroups);
  else k.scan2_seq(b.y, b.x, b.dt, L.A, b.B, b.C, L.D, st.ssm, T, s.nheads, s.headdim, s.dState, s.ngroups);

  k.gated_rmsnorm(b.x, b.y, b.z, L.mixerNorm, T, s.dInner, s.dInner / s.ngroups, cfg.mixer_norm_eps);
  project(k, L.outProj, b.hidden, b.x, T, b.onebit);
}

/** The Mamba-1 mixer: hidden[T, d_model] = out_proj(selectiveScan(conv(x), dt, B, C) * silu(z)). Reads `normed`. */
function mamba1Mixer(g: Graph, L: LayerWeights, st: LayerState, T: number): void {
  const { k, shapes: s, scratch: b } = g;
  project(k, L.inProj, b.proj, b.normed, T, b.onebit); // [T, x | z]
  k.copy_cols(b.convIn, b.proj, T, s.dInProj, 0, s.dInner);
  k.copy_cols(b.z, b.proj, T, s.dInProj, s.dInner, s.dInner);

  if (T === 1) k.conv1d_step(b.convOut, b.convIn, st.conv, L.convW, L.convB, s.dInner, s.dConv);
  else k.conv1d_seq(b.convOut, b.convIn, st.conv, L.convW, L.convB, T, s.dInner, s.dConv);
  k.silu(b.convOut, b.convOut, T * s.dInner);

  project(k, L.xProj!, b.xdbl, b.convOut, T, b.onebit); // [T, dt_low | B | C]
  k.copy_cols(b.dtLow, b.xdbl, T, s.xProjOut, 0, s.dtRank);
  k.copy_cols(b.B, b.xdbl, T, s.xProjOut, s.dtRank, s.dState);
  k.copy_cols(b.C, b.xdbl, T, s.xProjOut, s.dtRank + s.dState, s.dState);
  project(k, L.dtProj!, b.dt, b.dtLow, T, b.onebit); // dt = softplus(dt_proj(dt_low) + bias)
  k.softplus(b.dt, b.dt, T * s.dInner);

  if (T === 1) k.scan1_step(b.y, b.convOut, b.dt, L.A, b.B, b.C, L.D, st.ssm, s.dInner, s.dState);
  else k.scan1_seq(b.y, b.convOut, b.dt, L.A, b.B, b.C, L.D, st.ssm, T, s.dInner, s.dState);

  k.mul_silu(b.y, b.y, b.z, T * s.dInner);
  project(k, L.outProj, b.hidden, b.y, T, b.onebit);
}

/**
 * Run T ≤ scratch.maxT tokens through the model, updating `state`. Logits are computed for positions
 * `firstLogit .. T-1` into `scratch.logits` (`[T - firstLogit, vocab]`); pass T to skip the head.
 */
export function forward(g: Graph, state: LayerState[], ids: ArrayLike<number>, T: number, firstLogit: number): void {
  const { k, cfg, shapes: s, weights: w, scratch: b } = g;
  const n = T * s.dModel;
  embed(g, ids, T);
  g.heap.f32(b.residual, n).fill(0);
  for (let i = 0; i < cfg.n_layer; i++) {
    const L = w.layers[i];
    k.add(b.residual, b.residual, b.hidden, n);
    k.rmsnorm(b.normed, b.residual, L.norm, T, s.dModel, cfg.norm_eps);
    if (s.isMamba2) mamba2Mixer(g, L, state[i], T);
    else mamba1Mixer(g, L, state[i], T);
  }
  k.add(b.residual, b.residual, b.hidden, n);
  if (firstLogit >= T) return;
  const x = b.normed + 4 * firstLogit * s.dModel;
  k.rmsnorm(x, b.residual + 4 * firstLogit * s.dModel, w.normF, T - firstLogit, s.dModel, cfg.norm_eps);
  project(k, w.lmHead, b.logits, x, T - firstLogit, b.onebit); // logits [T - firstLogit, vocab]
}
