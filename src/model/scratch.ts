// Activation buffers for one chunk of up to `maxT` tokens, allocated once per model and shared by its
// sessions (the forward pass is synchronous, so two sessions never use them at the same time).
import type { Kernels } from '../wasm/core.js';
import type { Heap } from '../wasm/heap.js';
import type { Shapes } from './shapes.js';

type Ptr = number;

export interface Scratch {
  maxT: number;
  hidden: Ptr; // [T, d_model] the block's output, then the next block's input
  residual: Ptr; // [T, d_model] running residual stream
  normed: Ptr; // [T, d_model]
  proj: Ptr; // [T, d_in_proj] in_proj output
  z: Ptr; // [T, d_inner] gate
  convIn: Ptr; // [T, conv channels]
  convOut: Ptr; // [T, conv channels]
  x: Ptr; // [T, d_inner]
  B: Ptr; // [T, ngroups*d_state] (mamba1: [T, d_state])
  C: Ptr; // [T, ngroups*d_state]
  dt: Ptr; // [T, nheads] (mamba1: [T, d_inner])
  y: Ptr; // [T, d_inner] scan output
  xdbl: Ptr; // [T, dt_rank + 2*d_state] mamba1 x_proj output
  dtLow: Ptr; // [T, dt_rank] mamba1
  logits: Ptr; // [T, vocab]
  onebit: Ptr; // scratch of the 1-bit kernels
  block: Ptr; // the one allocation holding all of the above
}

/** Floats of each activation buffer for `maxT` tokens. */
function bufferFloats(s: Shapes, maxT: number) {
  const gn = s.isMamba2 ? s.ngroups * s.dState : s.dState;
  return {
    hidden: maxT * s.dModel,
    residual: maxT * s.dModel,
    normed: maxT * s.dModel,
    proj: maxT * s.dInProj,
    z: maxT * s.dInner,
    convIn: maxT * s.convChannels,
    convOut: maxT * s.convChannels,
    x: maxT * s.dInner,
    B: maxT * gn,
    C: maxT * gn,
    dt: maxT * (s.isMamba2 ? s.nheads : s.dInner),
    y: maxT * s.dInner,
    xdbl: maxT * s.xProjOut,
    dtLow: maxT * s.dtRank,
    logits: maxT * s.vocab,
  };
}

// each buffer rounded up to 16 floats so every one stays 64-byte aligned
const round = (n: number) => Math.ceil(n / 16) * 16;

/** Bytes of the one block allocScratch allocates (the model's memory budget counts it before loading). */
export function scratchBytes(k: Kernels, s: Shapes, maxT: number): number {
  let total = k.onebit_scratch_bytes(Math.max(s.dModel, s.dInner));
  for (const n of Object.values(bufferFloats(s, maxT))) total += 4 * round(n);
  return total;
}

export function allocScratch(heap: Heap, k: Kernels, s: Shapes, maxT: number): Scratch {
  const sizes = bufferFloats(s, maxT);
  const block = heap.alloc(scratchBytes(k, s, maxT), 'activation buffers');
  let at = block;
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(sizes)) { out[name] = at; at += 4 * round(n); }
  return { ...(out as Omit<Scratch, 'maxT' | 'onebit' | 'block'>), onebit: at, maxT, block };
}
