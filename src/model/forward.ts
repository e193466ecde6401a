// The forward pass, top to bottom, as mamba_ssm computes it:
//
//   residual = 0
//   hidden = embedding[ids]                                   [T, d_model]
//   for each layer:
//     residual = residual + hidden                            (f32)
//     hidden   = mixer(RMSNorm(residual))                     Mamba-1 or Mamba-2 mixer below
//   residual = residual + hidden
//   logits   = RMSNorm_f(residual) · lm_head^T                [T, vocab]  (lm_head is the embedding when tied)
//
// T tokens go through together (prefill); T = 1 is one decoding step. The recurrent state of each layer
// (conv window and SSM state) is read and updated in place, so feeding tokens in any chunking gives the
// same result. Every call is one of the graph's operations (src/wasm/kernel-set.ts), whose names are
// what runs.
//
// The T rows of a call may belong to several sessions (segments): a server's decoding step feeds one
// token of each of its streams at once. Everything but the conv and the scan works row by row, so it runs
// over all T rows together (the projections read their weights once for the whole batch); the conv and the
// scan read and update a session's own state, so they run once per segment, on its rows. Every kernel
// gives a row the same bits whatever rows share its call, so a session gets the same logits batched or alone.
//
// Shapes (the names of mamba_ssm's config):
//   T         tokens in this call (at most scratch.maxT)
//   d_model   the residual stream's width          d_inner   the mixer's width (expand * d_model)
//   d_state   the SSM state per channel (S in the kernels)
//   conv_dim  channels through the conv: mamba1 d_inner, mamba2 d_inner + 2 * ngroups * d_state (x | B | C)
//   nheads, headdim   Mamba-2 heads (H) of headdim (P) channels; ngroups (G) groups of heads share B and C
//   dt_rank   Mamba-1's low-rank time step           d_in_proj  in_proj's output width
// In the kernels K and N are a projection's inputs and outputs, W the conv width; B and C the SSM's input
// and output matrices, A its decay, Dskip its skip connection, h its state. Buffers are [rows, width]
// row-major; a view into a wider buffer is a pointer plus its row stride (floats between rows), as
// torch.split gives views of one projection.
import type { ModelConfig } from '../format/config.js';
import { q4Groups, Q4_GROUP_BYTES } from '../format/q4.js';
import type { Heap } from '../wasm/heap.js';
import type { Ops } from '../wasm/kernel-set.js';
import type { Scratch } from './scratch.js';
import type { Shapes } from './shapes.js';
import type { LayerWeights, Weights } from './weights.js';

type Ptr = number;

/** Everything the forward pass reads. */
export interface Graph {
  ops: Ops;
  heap: Heap;
  cfg: ModelConfig;
  shapes: Shapes;
  weights: Weights;
  scratch: Scratch;
}

/** One layer's recurrent state: `conv [conv_dim, d_conv-1]`, `ssm` (mamba1 `[d_inner, d_state]`, mamba2 `[nheads, headdim, d_state]`). */
export interface LayerState {
  conv: Ptr;
  ssm: Ptr;
}

/** The consecutive rows of one forward call that belong to one session: its state and its token count. */
export interface Segment {
  state: LayerState[];
  T: number;
}

/** Row `row` of a buffer whose rows are `width` floats apart. */
const rowOf = (p: Ptr, row: number, width: number): Ptr => p + 4 * row * width;

/** Runs `f` for each segment with its state of layer `layer`, its first row and its number of rows. */
function perSegment(segments: Segment[], layer: number, f: (st: LayerState, row: number, T: number) => void): void {
  let row = 0;
  for (const seg of segments) {
    f(seg.state[layer], row, seg.T);
    row += seg.T;
  }
}

/** hidden[t] = embedding row ids[t], dequantized to f32. */
function embed(g: Graph, ids: ArrayLike<number>, T: number): void {
  const { ops, heap, weights, shapes, scratch } = g;
  const e = weights.embedding;
  const D = shapes.dModel;
  for (let t = 0; t < T; t++) {
    const dst = scratch.hidden + 4 * t * D; // hidden[t] [d_model]
    const id = ids[t];
    if (e.kind === 'f32') heap.f32(dst, D).set(heap.f32(e.w + 4 * id * D, D));
    else if (e.kind === 'f16') ops.rowF16ToF32(dst, e.w + 2 * id * D, D);
    else if (e.kind === 'i8') ops.rowI8ToF32(dst, e.w + id * D, heap.f32(e.scale, e.rows)[id], D);
    else ops.rowQ4ToF32(dst, e.w + id * q4Groups(D) * Q4_GROUP_BYTES, e.scale + 2 * id * q4Groups(D), D);
  }
}

/**
 * The Mamba-2 mixer (mamba_ssm's Mamba2Simple, norm after the gate):
 * hidden[T, d_model] = out_proj(gatedNorm(ssd(conv(xBC), dt), z)). Reads `normed`.
 */
function mamba2Mixer(g: Graph, L: LayerWeights, layer: number, segments: Segment[], T: number): void {
  const { ops, cfg, shapes: s, scratch: b } = g;
  const { dInner, dInProj, convChannels, nheads, headdim, dState, ngroups } = s;
  // views: proj [T, z | xBC | dt] (rows d_in_proj apart); conv [T, x | B | C] (rows conv_dim apart) is ssd2's
  const z = b.proj, xBC = z + 4 * dInner, dtIn = xBC + 4 * convChannels;
  const [dtMin, dtMax] = cfg.time_step_limit;

  ops.linear(L.inProj, b.proj, b.normed, T); //                                      proj [T, d_in_proj] = normed [T, d_model] · in_proj^T
  perSegment(segments, layer, (st, r, n) => //                                         per session: conv [T, conv_dim] = silu(conv1d(xBC)),
    ops.ssd2(rowOf(b.y, r, dInner), rowOf(b.conv, r, convChannels), rowOf(xBC, r, dInProj), st.conv, L.convW, L.convB, // dt [T, nheads] = clamp(softplus(dt + dt_bias)),
      rowOf(b.dt, r, nheads), rowOf(dtIn, r, dInProj), L.dtBias, L.A, L.D, st.ssm, //                              y [T, d_inner] = scan of x, B, C (views of conv)
      n, nheads, headdim, dState, ngroups, s.dConv, dInProj, dtMin, dtMax ?? Infinity));
  ops.gatedRmsnorm(b.y, b.y, z, L.mixerNorm, T, dInner, dInner / ngroups, cfg.mixer_norm_eps, dInProj); // y [T, d_inner] = norm(y * silu(z [T, d_inner]))
  ops.linear(L.outProj, b.hidden, b.y, T); //                                         hidden [T, d_model] = y · out_proj^T
}

/**
 * The Mamba-1 mixer (mamba_ssm's Mamba): hidden[T, d_model] = out_proj(selectiveScan(conv(x), dt, B, C) * silu(z)).
 * Reads `normed`.
 */
function mamba1Mixer(g: Graph, L: LayerWeights, layer: number, segments: Segment[], T: number): void {
  const { ops, shapes: s, scratch: b } = g;
  const { dInner, dInProj, dState, dtRank, xProjOut } = s;
  // views: proj [T, x | z] (rows d_in_proj apart), xdbl [T, dt_low | B | C] (rows dt_rank + 2*d_state apart)
  const xIn = b.proj, z = xIn + 4 * dInner;
  const dtLow = b.xdbl, B = dtLow + 4 * dtRank, C = B + 4 * dState;

  ops.linear(L.inProj, b.proj, b.normed, T); //                                       proj [T, 2*d_inner] = normed [T, d_model] · in_proj^T
  perSegment(segments, layer, (st, r, n) => //                                          conv [T, d_inner] = silu(conv1d(x [T, d_inner])), per session
    ops.conv1dSilu(rowOf(b.conv, r, dInner), rowOf(xIn, r, dInProj), st.conv, L.convW, L.convB, n, dInner, s.dConv, dInProj));
  ops.linear(L.xProj!, b.xdbl, b.conv, T); //                                          xdbl [T, dt_rank + 2*d_state] = conv · x_proj^T
  ops.linear(L.dtProj!, b.dt, dtLow, T, xProjOut); //                                  dt [T, d_inner] = dt_low [T, dt_rank] · dt_proj^T + bias
  ops.softplus(b.dt, b.dt, T * dInner); //                                             dt [T, d_inner]
  perSegment(segments, layer, (st, r, n) => //                                         y [T, d_inner]; B, C [T, d_state], per session
    ops.scan1(rowOf(b.y, r, dInner), rowOf(b.conv, r, dInner), rowOf(b.dt, r, dInner), L.A, rowOf(B, r, xProjOut), rowOf(C, r, xProjOut), L.D, st.ssm,
      n, dInner, dState, xProjOut));
  ops.mulSilu(b.y, b.y, z, T, dInner, dInProj); //                                    y [T, d_inner] = y * silu(z [T, d_inner])
  ops.linear(L.outProj, b.hidden, b.y, T); //                                          hidden [T, d_model] = y · out_proj^T
}

/**
 * Run T ≤ scratch.maxT tokens through the model: the segments' tokens one after another (their T add up
 * to T), each segment updating its own state. Logits are computed for rows `firstLogit .. T-1` into
 * `scratch.logits` (`[T - firstLogit, vocab]`); pass T to skip the head. `firstLogit` may instead list
 * the rows (ascending) whose logits are wanted, scattered over the call (a server's step: each decoding
 * row and a prompt piece's last row): they are gathered before the final norm, their logits written in
 * that order.
 */
export function forward(g: Graph, segments: Segment[], ids: ArrayLike<number>, T: number, firstLogit: number | readonly number[]): void {
  const { ops, cfg, shapes: s, weights: w, scratch: b } = g;
  const n = T * s.dModel;
  embed(g, ids, T); //                                                     hidden [T, d_model]
  g.heap.f32(b.residual, n).fill(0); //                                    residual [T, d_model]
  for (let i = 0; i < cfg.n_layer; i++) {
    const L = w.layers[i];
    ops.add(b.residual, b.residual, b.hidden, n); //                       residual [T, d_model] += hidden
    ops.rmsnorm(b.normed, b.residual, L.norm, T, s.dModel, cfg.norm_eps); // normed [T, d_model]
    if (s.isMamba2) mamba2Mixer(g, L, i, segments, T); //                  hidden [T, d_model]
    else mamba1Mixer(g, L, i, segments, T);
  }
  ops.add(b.residual, b.residual, b.hidden, n); //                         residual [T, d_model] += hidden
  if (typeof firstLogit !== 'number') {
    const rows = firstLogit;
    if (rows.length === 0) return;
    const D = s.dModel;
    for (let j = 0; j < rows.length; j++) g.heap.f32(b.hidden + 4 * j * D, D).set(g.heap.f32(b.residual + 4 * rows[j] * D, D)); // hidden [Tl, d_model] (free now)
    ops.rmsnorm(b.normed, b.hidden, w.normF, rows.length, D, cfg.norm_eps); //                        normed [Tl, d_model]
    ops.linear(w.lmHead, b.logits, b.normed, rows.length); //                                          logits [Tl, vocab]
    return;
  }
  if (firstLogit >= T) return;
  const Tl = T - firstLogit;
  const normed = b.normed + 4 * firstLogit * s.dModel;
  ops.rmsnorm(normed, b.residual + 4 * firstLogit * s.dModel, w.normF, Tl, s.dModel, cfg.norm_eps); // normed [Tl, d_model]
  ops.linear(w.lmHead, b.logits, normed, Tl); //                                                     logits [Tl, vocab]
}
