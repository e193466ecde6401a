// The 8-bit activation mode of the 1-bit layers (LoadOptions.activationBits: 8, onebit_fast8_*) on whole
// models. The kernels' own bound and bits are tested in onebit-fast.test.ts and across the four builds in
// tests/kernels/builds.test.ts; threads in threads.test.ts. Here: the option is checked, it reaches the
// 1-bit layers and nothing else, a token gets the same bits in any prefill chunking, and the logits stay
// within the stated model-level bound of the exact path (docs/speed.md has the measured figures and why
// 12 bits stays the default).
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { rejection } from '../util/errors.js';
import { convertFixture, maxDiff, readExpected } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

/** Stated bound: 8-bit logits within this of the exact path's largest |logit| on the Bi-Mamba fixture (measured 0.12). */
const LOGIT_TOLERANCE_8 = 0.2;

describe('activationBits', () => {
  it('accepts 8 and 12 only, with a typed error naming the option', async () => {
    for (const bad of [7, 16, '8', null]) {
      const e = await rejection(loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM, activationBits: bad as unknown as 8 }));
      expect(e.code).toBe('BAD_ARGUMENT');
      expect(e.message).toContain('activationBits');
    }
  });

  it('8 bits: logits move from the 12-bit ones, but stay within the stated bound of the exact path (Bi-Mamba fixture)', async () => {
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny');
    const exact = await loadModel(path, { wasm: WASM, exact: true });
    const twelve = await loadModel(path, { wasm: WASM, activationBits: 12 });
    const eight = await loadModel(path, { wasm: WASM, activationBits: 8 });
    const ex = exact.logits(e.inputIds), y12 = twelve.logits(e.inputIds), y8 = eight.logits(e.inputIds);
    const d12 = maxDiff(y12, ex), d8 = maxDiff(y8, ex);
    expect(d8.diff).toBeGreaterThan(d12.diff); // the coarser tables are in use
    expect(d8.diff).toBeLessThanOrEqual(LOGIT_TOLERANCE_8 * d8.scale);
    // the default is 12 bits
    const byDefault = await loadModel(path, { wasm: WASM });
    expect(byDefault.logits(e.inputIds)).toEqual(y12);
    for (const m of [exact, twelve, eight, byDefault]) m.dispose();
  });

  it('changes nothing in a model without 1-bit layers (Mamba-2, int8 head)', async () => {
    const e = readExpected('mamba2-tiny-hf');
    const path = await convertFixture('mamba2-tiny-hf', { head: 'int8' });
    const twelve = await loadModel(path, { wasm: WASM, activationBits: 12 });
    const eight = await loadModel(path, { wasm: WASM, activationBits: 8 });
    expect(eight.logits(e.inputIds)).toEqual(twelve.logits(e.inputIds));
    twelve.dispose();
    eight.dispose();
  });

  it('8 bits: the same bits whatever the prefill chunk (one token, batches of 16, padded batches, the rest), f32 state', async () => {
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny', { head: 'int8' });
    const results: Float32Array[] = [];
    // 27 tokens: chunk 1 and 7 one by one; 16 a batch, then 11 padded to a batch; 64 a batch and 11 padded
    for (const prefillChunk of [1, 7, 16, 64]) {
      const model = await loadModel(path, { wasm: WASM, prefillChunk, stateType: 'f32', activationBits: 8 });
      results.push(model.logits(e.inputIds.slice(0, 27)));
      model.dispose();
    }
    for (let i = 1; i < results.length; i++) expect(results[i]).toEqual(results[0]);
  });
});
