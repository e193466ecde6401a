// Models with a 4-bit head (`--head q4`): every fixture converts, loads and runs; the model computes
// with exactly the values the file stores; and its logits stay near the f32-head model's.
//
// Stated tolerance against the f32-head model: logits within 0.5 of its largest |logit|, and their
// RMS difference within 0.3 of its RMS logit. That is loose because the fixtures are random tiny
// models: their embeddings have no structure for 16 levels per group to follow, so a 4-bit head moves
// their logits by 20-40% (an int8 head by 2-3%). On a trained model the cost is small (README: the
// built-in model's perplexity); what is held tight here is that nothing else moves them: the
// exact path equals the f32-head model holding the dequantized 4-bit values, and the fast path stays
// within the fast path's tolerance of the exact one.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { bf16ToF32 } from '../../src/format/dtype.js';
import { getQ4, q4Groups, Q4_GROUP, Q4_GROUP_BYTES } from '../../src/format/q4.js';
import { loadModel } from '../../src/model/model.js';
import { copyFixture, readAllSafetensors, readConverted, writeSafetensors } from '../convert/helpers.js';
import { convertFixture, FIXTURE_NAMES, LOGIT_TOLERANCE, maxDiff, readExpected } from '../util/fixtures.js';
import { writeSyntheticBiMamba } from '../util/synthetic-checkpoint.js';
import { WASM } from '../util/wasm.js';

async function logits(path: string, ids: number[], exact: boolean): Promise<Float32Array> {
  const model = await loadModel(path, { wasm: WASM, exact });
  try {
    expect(model.exact).toBe(exact);
    return model.logits(ids);
  } finally {
    model.dispose();
  }
}

/** RMS of a - b over RMS of b. */
function rmsRatio(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) { d += (a[i] - b[i]) ** 2; s += b[i] ** 2; }
  return Math.sqrt(d / s);
}

/** The head of a q4 file, dequantized to f32 [rows, cols]. */
async function dequantizedHead(path: string, rows: number, cols: number): Promise<Float32Array> {
  const conv = await readConverted(path);
  const packed = conv.tensor('embedding');
  const scale = new Uint16Array(conv.tensor('embedding.scale').buffer);
  const G = q4Groups(cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[r * cols + k] = getQ4(packed, r * G * Q4_GROUP_BYTES, k) * bf16ToF32(scale[r * G + Math.floor(k / Q4_GROUP)]);
  return out;
}

describe.each(FIXTURE_NAMES)('%s with a 4-bit head', (name) => {
  it('loads, and its logits stay within the stated tolerance of the f32-head model', async () => {
    const e = readExpected(name);
    const q4 = await logits(await convertFixture(name, { head: 'q4' }), e.inputIds, false);
    const f32 = await logits(await convertFixture(name), e.inputIds, true);
    const { diff, scale } = maxDiff(q4, f32);
    expect(q4.every(Number.isFinite)).toBe(true);
    expect(diff).toBeLessThanOrEqual(0.5 * scale);
    expect(rmsRatio(q4, f32)).toBeLessThanOrEqual(0.3);
  });
});

describe('4-bit head', () => {
  it('the exact path computes with exactly the values the file stores (mamba2-tiny-hf against its dequantized head in f32)', async () => {
    const name = 'mamba2-tiny-hf';
    const e = readExpected(name);
    const q4Path = await convertFixture(name, { head: 'q4' });
    // the checkpoint with its embedding replaced by the 4-bit values, converted with an f32 head
    const dir = await copyFixture(name, await mkdtemp(join(tmpdir(), 'bimamba-q4-')));
    const file = join(dir, 'model.safetensors');
    const tensors = await readAllSafetensors(file);
    const emb = tensors.find((t) => t.name === 'backbone.embeddings.weight')!;
    expect(emb.dtype).toBe('F32');
    emb.bytes = new Uint8Array((await dequantizedHead(q4Path, emb.shape[0], emb.shape[1])).buffer);
    await writeSafetensors(file, tensors);
    const f32Path = join(dir, 'dequantized.bimamba');
    await convertCheckpoint(dir, f32Path, { onWarning: () => {} });
    const { diff, scale } = maxDiff(await logits(q4Path, e.inputIds, true), await logits(f32Path, e.inputIds, true));
    expect(diff).toBeLessThanOrEqual(1e-5 * scale);
  });

  it('d_model 40 (a short last group): the fast path within the fast path\'s tolerance of the exact one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bimamba-q4-40-'));
    await writeSyntheticBiMamba(dir, { d_model: 40, n_layer: 2, vocab_size: 37, d_state: 8, headdim: 16 }, { seed: 3 });
    const path = join(dir, 'q4.bimamba');
    await convertCheckpoint(dir, path, { head: 'q4', onWarning: () => {} });
    const ids = Array.from({ length: 21 }, (_, i) => (i * 7) % 37);
    const exact = await logits(path, ids, true);
    const { diff, scale } = maxDiff(await logits(path, ids, false), exact);
    expect(exact.every(Number.isFinite)).toBe(true);
    expect(diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * scale);
  });
});
