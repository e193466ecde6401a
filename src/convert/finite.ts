// NaN and infinity have no place in weights: one would turn every logit after it into NaN. The
// converter refuses them in the checkpoint (naming the tensor and the element) and in what it writes
// (a finite value can still overflow F16, or an int8 scale).
import { BimambaError } from '../errors.js';

/** Row-major index of element `i` of `shape`, as "[r, c]". */
function indexOf(i: number, shape: number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(shape[d] > 0 ? i % shape[d] : 0);
    i = shape[d] > 0 ? Math.floor(i / shape[d]) : 0;
  }
  return `[${idx.join(', ')}]`;
}

/** The index of the first NaN or infinity, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** Refuse a checkpoint tensor holding NaN or infinity. */
export function checkFiniteInput(values: Float32Array, shape: number[], key: string): void {
  const i = firstNonFinite(values);
  if (i >= 0) throw new BimambaError('BAD_CHECKPOINT', `tensor "${key}" holds ${values[i]} at ${indexOf(i, shape)}: weights must be finite numbers`);
}

/** Refuse an output tensor (F32 or F16 bytes) that came out non-finite. */
export function checkFiniteOutput(bytes: Uint8Array, dtype: string, shape: number[], name: string): void {
  if (dtype === 'F32') {
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const values = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    const i = firstNonFinite(values);
    if (i >= 0) throw new BimambaError('BAD_CHECKPOINT', `tensor "${name}" would hold ${values[i]} at ${indexOf(i, shape)}: a weight is out of range`);
  } else if (dtype === 'F16') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; 2 * i < bytes.length; i++) {
      if ((view.getUint16(2 * i, true) & 0x7c00) === 0x7c00) {
        throw new BimambaError('BAD_CHECKPOINT', `tensor "${name}" overflows F16 at ${indexOf(i, shape)} (|value| > 65504): convert with --dtype f32 / --head f32`);
      }
    }
  }
}
