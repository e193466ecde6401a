// Sessions with the SSM state stored as bf16 (LoadOptions.stateType; the fast path's default; rounded
// once per call, so token by token it is rounded after every token): within the fast path's stated
// tolerance of the exact f32 path on every reference fixture, the reference's greedy tokens, half the
// SSM bytes, and snapshots that move between the two state types.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { convertFixture, LOGIT_TOLERANCE, maxDiff, MODEL_FIXTURES, readExpected, WASM } from './fixtures.js';

async function collect(gen: AsyncGenerator<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const { token } of gen) out.push(token);
  return out;
}

/** Logits at every position, the tokens fed one at a time (the state rounded after each, as in decoding). */
function stepLogits(model: Awaited<ReturnType<typeof loadModel>>, ids: number[]): Float32Array {
  const V = model.vocabSize, out = new Float32Array(ids.length * V);
  const s = model.createSession();
  ids.forEach((id, t) => out.set(s.feed([id]), t * V));
  s.dispose();
  return out;
}

describe.each(MODEL_FIXTURES)('%s with a bf16 state', (name) => {
  it(`logits within ${LOGIT_TOLERANCE} of the exact f32 path's largest logit, token by token and in one call; the reference's greedy tokens`, async () => {
    const e = readExpected(name);
    const path = await convertFixture(name);
    const bf16 = await loadModel(path, { wasm: WASM, stateType: 'bf16' });
    const exact = await loadModel(path, { wasm: WASM, exact: true });
    expect(bf16.stateType).toBe('bf16');
    expect(exact.stateType).toBe('f32');
    const want = exact.logits(e.inputIds);
    const stepped = maxDiff(stepLogits(bf16, e.inputIds), want);
    expect(stepped.diff).toBeGreaterThan(0); // the state is rounded
    expect(stepped.diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * stepped.scale);
    const { diff, scale } = maxDiff(bf16.logits(e.inputIds), want);
    expect(diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * scale);
    expect(await collect(bf16.generate(e.greedyPrompt, { temperature: 0, maxTokens: 20, stopAtEos: false }))).toEqual(e.greedyTokens);
    bf16.dispose();
    exact.dispose();
  });
});

describe('bf16 state', () => {
  it('is the fast path\'s default (f32 with exact), and halves the SSM state: conv windows and logits stay f32', async () => {
    const path = await convertFixture('mamba2-tiny-hf');
    const f32 = await loadModel(path, { wasm: WASM, stateType: 'f32' });
    const bf16 = await loadModel(path, { wasm: WASM });
    expect(bf16.stateType).toBe('bf16');
    const exact = await loadModel(path, { wasm: WASM, exact: true });
    expect(exact.stateType).toBe('f32');
    expect(exact.stateBytes).toBe(f32.stateBytes);
    exact.dispose();
    const c = f32.config;
    const ssm = c.n_layer * c.nheads * c.headdim * c.d_state;
    expect(f32.stateBytes - bf16.stateBytes).toBe(2 * ssm);
    expect(bf16.createSession().snapshot().length).toBe(f32.createSession().snapshot().length - 2 * ssm);
    f32.dispose();
    bf16.dispose();
  });

  it('a snapshot restores into a model of the other state type: f32 -> bf16 rounds, bf16 -> f32 -> bf16 gives back the same bytes', async () => {
    const path = await convertFixture('bimamba-tiny');
    const f32 = await loadModel(path, { wasm: WASM, stateType: 'f32' });
    const bf16 = await loadModel(path, { wasm: WASM, stateType: 'bf16' });
    const prompt = [5, 17, 3, 99, 250, 7];
    const a = bf16.createSession();
    a.feed(prompt);
    const snap = a.snapshot();
    const viaF32 = f32.restoreSession(snap);
    expect(viaF32.tokensSeen).toBe(prompt.length);
    expect(viaF32.lastLogits()).toEqual(a.lastLogits());
    const back = bf16.restoreSession(viaF32.snapshot());
    expect(back.snapshot()).toEqual(snap);
    expect(back.feed([8])).toEqual(a.feed([8]));

    // an f32 session moved to bf16 goes on as a bf16 session would (its state rounded once more)
    const b = f32.createSession();
    b.feed(prompt);
    const moved = bf16.restoreSession(b.snapshot());
    const { diff, scale } = maxDiff(moved.feed([8]), b.feed([8]));
    expect(diff).toBeLessThanOrEqual(LOGIT_TOLERANCE * scale);
    f32.dispose();
    bf16.dispose();
  });

  it('an unknown state type is refused before anything loads', async () => {
    const path = await convertFixture('bimamba-tiny');
    for (const stateType of ['f16', 'BF16', 1, null]) {
      await expect(loadModel(path, { wasm: WASM, stateType: stateType as never })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/stateType/) });
    }
  });
});
