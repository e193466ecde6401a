// Activation buffers for one chunk of up to `maxT` tokens, allocated once per model and shared by its
// sessions (the forward pass is synchronous, so two sessions never use them at the same time).
// Shapes use the letters of src/model/forward.ts.
import type { Heap } from '../wasm/heap.js';
import type { Shapes } from './shapes.js';

type Ptr = number;

export interface Scratch {
  maxT: number;
  hidden: Ptr; // [T, d_model] the block's output, then the next block's input
  residual: Ptr; // [T, d_model] running residual stream
  normed: Ptr; // [T, d_model] the mixer's input (and the final norm's output)
  proj: Ptr; // [T, d_in_proj] in_proj output: mamba2 z | xBC | dt, mamba1 x | z
  conv: Ptr; // [T, conv_dim] conv1d + silu output: mamba2 x | B | C, mamba1 x
  dt: Ptr; // [T, nheads] (mamba1: [T, d_inner]) softplus'd time steps
  y: Ptr; // [T, d_inner] scan output, gated in place, out_proj's input
  xdbl: Ptr; // [T, dt_rank + 2*d_state] mamba1 x_proj output: dt_low | B | C
  logits: Ptr; // [T, vocab]
  block: Ptr; // the one allocation holding all of the above
}

type BufferName = Exclude<keyof Scratch, 'maxT' | 'block'>;

/** Floats of each activation buffer for `maxT` tokens (a buffer added to Scratch must be sized here). */
function bufferFloats(s: Shapes, maxT: number): Record<BufferName, number> {
  return {
    hidden: maxT * s.dModel,
    residual: maxT * s.dModel,
    normed: maxT * s.dModel,
    proj: maxT * s.dInProj,
    conv: maxT * s.convChannels,
    dt: maxT * (s.isMamba2 ? s.nheads : s.dInner),
    y: maxT * s.dInner,
    xdbl: maxT * s.xProjOut,
    logits: maxT * s.vocab,
  };
}

// each buffer rounded up to 16 floats so every one stays 64-byte aligned
const round = (n: number) => Math.ceil(n / 16) * 16;

/** Bytes of the one block allocScratch allocates (the model's memory budget counts it before loading). */
export function scratchBytes(s: Shapes, maxT: number): number {
  let total = 0;
  for (const n of Object.values(bufferFloats(s, maxT))) total += 4 * round(n);
  return total;
}

export function allocScratch(heap: Heap, s: Shapes, maxT: number): Scratch {
  const f = bufferFloats(s, maxT);
  const block = heap.alloc(scratchBytes(s, maxT), 'activation buffers');
  let at = block;
  const next = (floats: number): Ptr => {
    const p = at;
    at += 4 * round(floats);
    return p;
  };
  return {
    maxT, block,
    hidden: next(f.hidden), residual: next(f.residual), normed: next(f.normed), proj: next(f.proj), conv: next(f.conv),
    dt: next(f.dt), y: next(f.y), xdbl: next(f.xdbl), logits: next(f.logits),
  };
}
