// Sizes derived from a config, in one place: the graph, the state and the scratch buffers use them.
import { convChannels, inProjRows, type ModelConfig } from '../format/config.js';

export interface Shapes {
  isMamba2: boolean;
  dModel: number;
  dInner: number;
  dState: number;
  dConv: number;
  convChannels: number; // mamba1: d_inner; mamba2: d_inner + 2*ngroups*d_state (x, B and C go through the conv)
  dInProj: number; // in_proj output width
  nheads: number;
  headdim: number;
  ngroups: number;
  dtRank: number;
  xProjOut: number; // mamba1: dt_rank + 2*d_state
  vocab: number; // real vocabulary: logits have this width
  convStateFloats: number; // per layer
  ssmStateFloats: number; // per layer
}

export function shapesOf(cfg: ModelConfig): Shapes {
  const isMamba2 = cfg.arch === 'mamba2';
  const channels = convChannels(cfg);
  return {
    isMamba2,
    dModel: cfg.d_model,
    dInner: cfg.d_inner,
    dState: cfg.d_state,
    dConv: cfg.d_conv,
    convChannels: channels,
    dInProj: inProjRows(cfg),
    nheads: cfg.nheads,
    headdim: cfg.headdim,
    ngroups: cfg.ngroups,
    dtRank: cfg.dt_rank,
    xProjOut: isMamba2 ? 0 : cfg.dt_rank + 2 * cfg.d_state,
    vocab: cfg.vocab_size,
    convStateFloats: channels * (cfg.d_conv - 1),
    ssmStateFloats: isMamba2 ? cfg.nheads * cfg.headdim * cfg.d_state : cfg.d_inner * cfg.d_state,
  };
}
