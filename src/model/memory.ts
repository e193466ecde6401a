// The WASM memory a model needs, computed from the file's header alone, so that a model which would
// not fit under `maxMemoryBytes` (or WASM's 4 GiB) is refused before a byte of it is allocated or read.
// It adds up the blocks loadModel allocates: the weights, what is derived from them at load, the
// activation buffers, the kernel scratch, and the state of one session.
import { BimambaError } from '../errors.js';
import type { BimambaHeader } from '../format/bimamba.js';
import type { ModelConfig } from '../format/config.js';
import type { Core, Kernels } from '../wasm/core.js';
import { memoryCap, WASM_MAX_BYTES } from '../wasm/heap.js';
import { kernelSetScratchBytes, type KernelSetOptions } from '../wasm/kernel-set.js';
import { scratchBytes } from './scratch.js';
import { shapesOf, type Shapes } from './shapes.js';
import { derivedBytes } from './weights.js';


export interface MemoryNeed {
  weights: number;
  derived: number;
  activations: number;
  kernelScratch: number;
  session: number;
  /** Every block rounded up to the heap's 64-byte alignment, added up. */
  total: number;
}

const roundUp = (n: number) => Math.ceil(n / 64) * 64;

/** How sessions store the SSM state (LoadOptions.stateType): f32, or bfloat16 (half the bytes). */
export type StateType = 'f32' | 'bf16';
export const STATE_TYPES: readonly StateType[] = ['f32', 'bf16'];

/**
 * Where one session's state lies in its block, in bytes: per layer the conv window (f32) and then the
 * SSM state (f32 or bf16; bf16 padded to 4 bytes so that every f32 part stays 4-byte aligned), then
 * the last logits (f32). The f32 layout is the one snapshots of format 1 and 2 hold.
 */
export interface StateLayout {
  stateType: StateType;
  layers: number;
  convBytes: number;
  ssmBytes: number;
  /** conv + ssm: layer i starts at i * layerBytes */
  layerBytes: number;
  logitsOffset: number;
  total: number;
}

export function stateLayout(cfg: ModelConfig, stateType: StateType = 'f32'): StateLayout {
  const s = shapesOf(cfg);
  const convBytes = 4 * s.convStateFloats;
  const ssmBytes = stateType === 'bf16' ? Math.ceil(s.ssmStateFloats / 2) * 4 : 4 * s.ssmStateFloats;
  const layerBytes = convBytes + ssmBytes;
  const logitsOffset = cfg.n_layer * layerBytes;
  return { stateType, layers: cfg.n_layer, convBytes, ssmBytes, layerBytes, logitsOffset, total: logitsOffset + 4 * s.vocab };
}

/** Bytes of one session's state: per layer the conv window and the SSM state, then the last logits. */
export function sessionStateBytes(cfg: ModelConfig, stateType: StateType = 'f32'): number {
  return stateLayout(cfg, stateType).total;
}

/** The kernel set's options for a model of these shapes (loadModel creates it with them; memoryNeed sizes its scratch with them). */
export function kernelSetOptions(shapes: Shapes, prefillChunk: number, exact: boolean, stateType: StateType, activationBits: 8 | 12 = 12): KernelSetOptions {
  return { exact, activationBits, maxT: prefillChunk, maxK: Math.max(shapes.dModel, shapes.dInner), stateType, stateValues: shapes.ssmStateFloats };
}

/** What loading the model of `header` allocates, with a prefill chunk of `prefillChunk` (`exact`: LoadOptions.exact). */
export function memoryNeed(header: BimambaHeader, k: Kernels, prefillChunk: number, exact = false, stateType: StateType = 'f32', activationBits: 8 | 12 = 12): MemoryNeed {
  const cfg = header.config;
  const shapes = shapesOf(cfg);
  const need = {
    weights: header.dataBytes,
    derived: derivedBytes(cfg),
    activations: scratchBytes(shapes, prefillChunk),
    kernelScratch: kernelSetScratchBytes(k, kernelSetOptions(shapes, prefillChunk, exact, stateType, activationBits)),
    session: sessionStateBytes(cfg, stateType),
  };
  const total = Object.values(need).reduce((sum, n) => sum + roundUp(n), 0);
  return { ...need, total };
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Refuse, with the numbers, a model that would not fit in `core`'s memory under its cap. */
export function checkMemoryNeed(header: BimambaHeader, core: Core, prefillChunk: number, maxMemoryBytes: number | undefined, exact = false, stateType: StateType = 'f32', activationBits: 8 | 12 = 12): void {
  const limit = memoryCap(maxMemoryBytes);
  const n = memoryNeed(header, core.kernels, prefillChunk, exact, stateType, activationBits);
  // the figure is the memory's size once loaded with one session: the core's own data below the heap
  // and every block, in whole 64 KiB pages; a cap of exactly this many bytes fits
  const bytes = core.heap.memoryBytesWith(n.total);
  if (!core.heap.wouldFit(n.total) || bytes > limit) {
    const which = limit < WASM_MAX_BYTES ? `the maxMemoryBytes cap of ${limit} bytes` : "WASM's 4 GiB";
    const base = bytes - n.total;
    throw new BimambaError('OUT_OF_MEMORY',
      `this model needs ${bytes} bytes of WASM memory (${MiB(bytes)}: weights ${MiB(n.weights)}, derived ${MiB(n.derived)}, ` +
      `activations ${MiB(n.activations)} for a prefill chunk of ${prefillChunk}, kernel scratch ${MiB(n.kernelScratch)}, one session ${MiB(n.session)}, ` +
      `the core's own data and rounding to 64 KiB pages ${MiB(base)}), more than ${which} allows; nothing was allocated`);
  }
}
