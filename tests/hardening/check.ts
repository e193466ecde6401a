// Running a fuzz target on one input: it must load or throw a BimambaError, within a time bound.
import { BimambaError } from '../../src/errors.js';
import type { Target } from './targets.js';

/** No single input may take longer than this (a hang or runaway work shows up as a failure). */
export const MAX_CASE_MS = 2000;
/** Nor make the process use more memory than this (checked by `npm run fuzz` as its peak RSS over the run). */
export const MAX_CASE_BYTES = 512 * 1024 * 1024;

/** Run one case; throw (for fast-check to report) on anything but success or a BimambaError. */
export async function runCase(target: Target, input: unknown): Promise<void> {
  const t0 = performance.now();
  try {
    await target.run(input);
  } catch (e) {
    if (!(e instanceof BimambaError)) throw e;
    if (!e.message || !e.code) throw new Error(`a BimambaError without a code or message: ${String(e)}`);
  }
  const ms = performance.now() - t0;
  if (ms > MAX_CASE_MS) throw new Error(`${target.name}: one input took ${ms.toFixed(0)} ms (limit ${MAX_CASE_MS} ms)`);
}
