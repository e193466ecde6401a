// Sessions: constant-size state, snapshots, forks, and many sessions on one model.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { snapshotSize } from '../../src/model/snapshot.js';
import { thrownBy } from '../util/errors.js';
import { convertFixture, maxDiff, readExpected } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

async function tokens(gen: AsyncGenerator<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const { token } of gen) out.push(token);
  return out;
}

describe('sessions', () => {
  it('snapshot → restoreSession continues generation identically', async () => {
    const e = readExpected('mamba2-tiny-hf');
    const model = await loadModel(await convertFixture('mamba2-tiny-hf'), { wasm: WASM });
    const opts = { temperature: 0.9, topK: 50, seed: 7, maxTokens: 12, stopAtEos: false };
    const s = model.createSession();
    await tokens(model.generate(e.greedyPrompt, { ...opts, session: s }));
    const snap = s.snapshot();
    const straight = await tokens(model.generate([], { ...opts, seed: 99, session: s }));
    const restored = model.restoreSession(snap);
    const resumed = await tokens(model.generate([], { ...opts, seed: 99, session: restored }));
    expect(resumed).toEqual(straight);
    expect(resumed.length).toBe(12);
    model.dispose();
  });

  it('samples from a writable copy of the last logits in the model memory: changing it leaves the session alone', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const s = model.createSession();
    s.feed([1, 2, 3]);
    const before = s.lastLogits();
    const row = s.samplingLogits(before.length, true);
    expect(row).toEqual(before);
    expect(s.argmax(row)).toBe(before.indexOf(Math.max(...before)));
    row[7] = Infinity; // as a penalty would change it, in place
    expect(s.argmax(row)).toBe(7);
    expect(s.lastLogits()).toEqual(before);
    expect(() => s.argmax(before)).toThrow(/view into the model memory/); // a JS copy is not where the kernel reads
    expect(thrownBy(() => s.argmax(before)).code).toBe('BAD_ARGUMENT'); // a BimambaError, as every error of the API
    model.dispose();
  });

  it('the snapshot size is fixed by the model, not by the tokens seen', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM, stateType: 'f32' });
    const s = model.createSession();
    s.feed([1, 2, 3]);
    const a = s.snapshot().length;
    s.feed(Array.from({ length: 500 }, (_, i) => (i * 37) % 1000));
    const b = s.snapshot().length;
    expect(a).toBe(b);
    expect(a).toBe(snapshotSize(model.stateBytes));
    // per layer: conv window (C x (d_conv-1)) + SSM state (H x P x N), then the logits, all f32 (bf16 state: tests/model/state-type.test.ts)
    const c = model.config;
    const C = c.d_inner + 2 * c.ngroups * c.d_state;
    expect(model.stateBytes).toBe(4 * (c.n_layer * (C * (c.d_conv - 1) + c.nheads * c.headdim * c.d_state) + c.vocab_size));
    model.dispose();
  });

  it('fork() copies the state: both branches continue like the original would', async () => {
    const e = readExpected('mamba1-tiny-ssm');
    const model = await loadModel(await convertFixture('mamba1-tiny-ssm'), { wasm: WASM });
    const a = model.createSession();
    a.feed(e.inputIds.slice(0, 10));
    const b = a.fork();
    const la = a.feed(e.inputIds.slice(10, 20));
    const lb = b.feed(e.inputIds.slice(10, 20));
    expect(Array.from(lb)).toEqual(Array.from(la));
    const V = e.V;
    const ref = e.logits.subarray(19 * V, 20 * V);
    expect(maxDiff(la, ref).diff).toBeLessThanOrEqual(1e-3 * maxDiff(la, ref).scale);
    model.dispose();
  });

  it('interleaved sessions on one model do not disturb each other', async () => {
    const e = readExpected('bimamba-tiny');
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const alone = await tokens(model.generate(e.greedyPrompt, { temperature: 0, maxTokens: 20, stopAtEos: false }));
    const prompts = [e.greedyPrompt, e.inputIds.slice(3, 9), e.greedyPrompt, e.inputIds.slice(20, 30)];
    const results = await Promise.all(prompts.map((p) => tokens(model.generate(p, { temperature: 0, maxTokens: 20, stopAtEos: false }))));
    expect(results[0]).toEqual(alone);
    expect(results[2]).toEqual(alone);
    expect(results[0]).toEqual(e.greedyTokens);
    model.dispose();
  });

  it('a snapshot from another model or a corrupted one is refused', async () => {
    const m1 = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const m2 = await loadModel(await convertFixture('mamba2-tiny-hf'), { wasm: WASM });
    const s = m1.createSession();
    s.feed([5, 6, 7]);
    const snap = s.snapshot();
    expect(() => m2.restoreSession(snap)).toThrow(/another model/);
    const bad = snap.slice();
    bad[4] = 9; // format version
    expect(() => m1.restoreSession(bad)).toThrow(/version 9/);
    expect(() => m1.restoreSession(snap.subarray(0, 100))).toThrow(/too short|bytes/);
    m1.dispose();
    m2.dispose();
  });
});
