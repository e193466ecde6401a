// Numbers: NaN and infinity are refused at conversion, naming the tensor and the element; extreme
// (but valid) sampling parameters keep every logit and probability finite.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/convert/checkpoint.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { Rng } from '../../src/generate/rng.js';
import { resolveSampling, sample } from '../../src/generate/sampler.js';
import { copyFixture, readAllSafetensors, rejection, writeSafetensors, type RawTensor } from '../convert/helpers.js';
import { checkpointDir, loadWithByteTokenizer } from '../util/fixtures.js';
import { loadCore, type TestCore } from '../util/wasm.js';

let wasm: TestCore; // the argmax kernel, for temperature 0
beforeAll(async () => { wasm = await loadCore(); });

/** Set element `i` of an F32 tensor. */
function setF32(t: RawTensor, i: number, v: number): void {
  new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength).setFloat32(4 * i, v, true);
}

/** A copy of a fixture whose tensors (as safetensors) went through `edit`. */
async function editedCheckpoint(fixture: string, edit: (tensors: RawTensor[]) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bimamba-numbers-'));
  let tensors: RawTensor[];
  if (fixture.endsWith('-hf')) {
    await copyFixture(fixture, dir);
    tensors = await readAllSafetensors(join(dir, 'model.safetensors'));
  } else {
    // a torch checkpoint: its tensors, rewritten as model.safetensors (which the converter prefers)
    await writeFile(join(dir, 'config.json'), await readFile(join(checkpointDir(fixture), 'config.json')));
    const ckpt = await openCheckpoint(checkpointDir(fixture));
    tensors = [];
    for (const [name, t] of ckpt.tensors) tensors.push({ name, dtype: t.dtype, shape: t.shape, bytes: (await t.read()).slice() });
    await ckpt.close();
  }
  edit(tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

const tensor = (ts: RawTensor[], name: string) => ts.find((t) => t.name === name)!;

describe('NaN and infinity in weights', () => {
  it('are refused at conversion with an error naming the checkpoint tensor and the element', async () => {
    const cases: [string, string, number, number, RegExp][] = [
      ['mamba1-tiny-hf', 'backbone.layers.1.mixer.A_log', 37, NaN, /tensor "backbone.layers.1.mixer.A_log" holds NaN at \[2, 5\]/],
      ['mamba1-tiny-hf', 'backbone.embeddings.weight', 64 * 999 + 63, Infinity, /tensor "backbone.embeddings.weight" holds Infinity at \[999, 63\]/],
      ['mamba2-tiny-hf', 'backbone.layers.0.mixer.out_proj.weight', 0, -Infinity, /tensor "backbone.layers.0.mixer.out_proj.weight" holds -Infinity at \[0, 0\]/],
      ['bimamba-tiny', 'backbone.layers.1.mixer.in_proj.wscale', 3, NaN, /tensor "backbone.layers.1.mixer.in_proj.wscale" holds NaN at \[0, 3\]/],
      ['bimamba-tiny', 'backbone.layers.0.mixer.in_proj.weight', 64 * 10 + 1, Infinity, /in_proj.weight" holds Infinity at \[10, 1\]/],
    ];
    for (const [fixture, name, i, v, message] of cases) {
      const dir = await editedCheckpoint(fixture, (ts) => setF32(tensor(ts, name), i, v));
      const out = join(dir, 'out.bimamba');
      const e = await rejection(convertCheckpoint(dir, out, { onWarning: () => {} }));
      expect(e.code).toBe('BAD_CHECKPOINT');
      expect(e.message).toMatch(message);
      // nothing that looks like a finished file is left behind
      await expect(readFile(out)).rejects.toThrow();
    }
  });

  it('a finite weight that overflows F16 is refused when converting to F16, and fine in F32', async () => {
    const dir = await editedCheckpoint('mamba2-tiny-hf', (ts) => setF32(tensor(ts, 'backbone.layers.1.mixer.in_proj.weight'), 64 * 3 + 2, 1e5));
    const e = await rejection(convertCheckpoint(dir, join(dir, 'f16.bimamba'), { dtype: 'f16', onWarning: () => {} }));
    expect(e.message).toMatch(/tensor "layers.1.in_proj.weight" overflows F16 at \[3, 2\]/);
    await convertCheckpoint(dir, join(dir, 'f32.bimamba'), { onWarning: () => {} });
  });
});

describe('extreme sampling parameters', () => {
  const finiteLogits = fc.array(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.float({ min: -20, max: 20, noNaN: true })), { minLength: 1, maxLength: 40 });
  const extreme = [1e-38, 1e-30, 1e-6, 0.5, 1, 2, 1e6, 1e30, 1e38, 1e300];

  it('keep every logit finite and return a valid token, for any finite logits (property)', () => {
    fc.assert(
      fc.property(
        finiteLogits,
        fc.record({
          temperature: fc.constantFrom(0, ...extreme),
          topK: fc.nat({ max: 50 }),
          topP: fc.constantFrom(1e-300, 1e-9, 0.5, 1),
          minP: fc.constantFrom(0, 1e-300, 0.5, 0.999999),
          repetitionPenalty: fc.constantFrom(...extreme),
        }),
        fc.array(fc.nat({ max: 45 }), { maxLength: 60 }),
        fc.nat(),
        (values, options, recent, seed) => {
          const logits = Float32Array.from(values);
          const token = sample(logits, resolveSampling(options), new Rng(seed), recent, wasm.argmax);
          expect(Number.isInteger(token) && token >= 0 && token < logits.length).toBe(true);
          for (const v of logits) expect(Number.isFinite(v)).toBe(true);
        },
      ),
      { numRuns: 600, seed: 3 },
    );
  });

  it('a boosting penalty on a seen token picks it, however extreme (no infinity turns it into the last choice)', () => {
    // 4 / 1e-38 is past the largest f32: unclamped, it would be Infinity, and Infinity - Infinity NaN
    const logits = Float32Array.from([1, 5, 4, 3]);
    const token = sample(logits, resolveSampling({ temperature: 1, repetitionPenalty: 1e-38 }), new Rng(1), [2], wasm.argmax);
    expect(token).toBe(2);
    expect(logits[2]).toBeLessThan(Infinity);
  });

  it('through generation: temperature 1e-30 is greedy, 1e30 and extreme penalties give valid tokens', async () => {
    const model = await loadWithByteTokenizer();
    const run = async (o: object) => {
      const tokens: number[] = [];
      for await (const { token } of model.generate('Hello', { maxTokens: 12, stopAtEos: false, seed: 9, ...o })) tokens.push(token);
      return tokens;
    };
    const greedy = await run({ temperature: 0 });
    expect(await run({ temperature: 1e-30 })).toEqual(greedy);
    for (const o of [{ temperature: 1e30 }, { repetitionPenalty: 1e38 }, { repetitionPenalty: 1e-38 }, { temperature: 1e-30, repetitionPenalty: 1e300 }, { topP: 1e-300 }, { minP: 0.999999, temperature: 1e30 }]) {
      const tokens = await run(o);
      expect(tokens).toHaveLength(12);
      for (const t of tokens) expect(t >= 0 && t < model.tokenizer!.vocabSize).toBe(true);
    }
    // and the logits the model produces along the way are finite
    const s = model.createSession();
    expect(s.feed(greedy).every(Number.isFinite)).toBe(true);
    // and greedy decoding (the argmax kernel over the sampling logits) picks the largest of them
    const logits = s.lastLogits();
    expect(s.argmax(s.samplingLogits(logits.length, false))).toBe(logits.indexOf(Math.max(...logits)));
    model.dispose();
  });
});
