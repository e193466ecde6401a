// The public API as users see it: the published types name only the API, models and sessions are
// disposable with `using`, a session's counters are read-only, feed()'s callback gets logits of its own,
// and the repetition window is a sampling option that snapshots do not freeze.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { snapshotSize } from '../../src/model/snapshot.js';
import { thrownBy } from '../util/errors.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

const DTS = new URL('../../dist/index.d.ts', import.meta.url);

async function tokens(gen: AsyncGenerator<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const { token } of gen) out.push(token);
  return out;
}

describe('published types', () => {
  it('dist/index.d.ts names none of the internals', () => {
    expect(existsSync(DTS), 'run npm run build first').toBe(true);
    // index.d.ts and the chunks it imports (the types it shares with server.d.ts lie in one of them)
    const files = [DTS];
    for (let i = 0; i < files.length; i++) {
      for (const [, chunk] of readFileSync(files[i], 'utf8').matchAll(/from '\.\/([\w-]+)\.js'/g)) {
        const url = new URL(`${chunk}.d.ts`, DTS);
        if (!files.some((f) => f.href === url.href)) files.push(url);
      }
    }
    const dts = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const name of ['Kernels', 'ThreadPool', 'Heap', 'Graph', 'Scratch', 'Weights', 'SessionHost', 'ModelRuntime', 'Core', 'Ops', '@internal']) {
      expect(dts, name).not.toMatch(new RegExp(`\\b${name}\\b`));
    }
    for (const api of ['declare class Model', 'declare class Session', 'loadModel', 'BimambaError', '[Symbol.dispose](): void']) expect(dts).toContain(api);
    expect(dts).toMatch(/private constructor\(\);[\s\S]*private constructor\(\);/); // neither class is built by hand
  });
});

describe('Model and Session', () => {
  it('are disposed by `using` at the end of a block', async () => {
    const path = await convertFixture('bimamba-tiny');
    let seen: { isDisposed: boolean } | null = null;
    let model: Awaited<ReturnType<typeof loadModel>> | null = null;
    {
      using m = await loadModel(path, { wasm: WASM });
      using s = m.createSession();
      s.feed([1, 2, 3]);
      seen = s;
      model = m;
    }
    expect(seen.isDisposed).toBe(true);
    expect(thrownBy(() => model!.createSession()).code).toBe('DISPOSED');
  });

  it('keep their counters read-only', async () => {
    const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM });
    const s = model.createSession();
    s.feed([1, 2, 3]);
    expect(() => { (s as unknown as { tokensSeen: number }).tokensSeen = 0; }).toThrow(TypeError);
    expect(s.tokensSeen).toBe(3);
    expect('history' in s).toBe(false);
    model.dispose();
  });

  it("feed()'s callback gets logits of its own: feeding another session inside it changes nothing", async () => {
    const model = await loadModel(await convertFixture('mamba2-tiny-hf'), { wasm: WASM, prefillChunk: 4 });
    const ids = [5, 17, 3, 99, 41, 7, 23, 11, 2, 64];
    const clean: Float32Array[] = [];
    const a = model.createSession();
    const lastClean = a.feed(ids, (_, l) => clean.push(l.slice()));
    const other = model.createSession();
    const kept: Float32Array[] = [];
    const b = model.createSession();
    const last = b.feed(ids, (_, l) => {
      kept.push(l); // kept as given, not copied
      other.feed([1, 2, 3, 4, 5]); // runs the model on the same scratch
    });
    expect(kept.length).toBe(ids.length);
    for (let t = 0; t < ids.length; t++) expect(kept[t]).toEqual(clean[t]);
    expect(last).toEqual(lastClean);
    expect(b.lastLogits()).toEqual(lastClean);
    model.dispose();
  });
});

describe('repetition window', () => {
  it('is a sampling option: 0 turns the penalty off, and it is checked', async () => {
    const model = await loadModel(await convertFixture('mamba2-tiny-hf'), { wasm: WASM });
    const prompt = [5, 17, 3, 99, 41, 7, 23, 11];
    const opts = { temperature: 0, maxTokens: 24, stopAtEos: false };
    const plain = await tokens(model.generate(prompt, opts));
    const penalised = await tokens(model.generate(prompt, { ...opts, repetitionPenalty: 1e6 }));
    const windowless = await tokens(model.generate(prompt, { ...opts, repetitionPenalty: 1e6, repetitionWindow: 0 }));
    expect(windowless).toEqual(plain);
    expect(penalised).not.toEqual(plain);
    // with a huge penalty over a window longer than the output, no generated token repeats one in the window
    const wide = await tokens(model.generate(prompt, { ...opts, repetitionPenalty: 1e30, repetitionWindow: 4096 }));
    expect(new Set([...prompt, ...wide]).size).toBe(prompt.length + wide.length);
    for (const repetitionWindow of [-1, 1.5, 4097, NaN]) {
      const e = await (async () => { try { await tokens(model.generate(prompt, { repetitionWindow })); } catch (e) { return e as { code: string; message: string }; } return null; })();
      expect(e?.code).toBe('BAD_ARGUMENT');
      expect(e?.message).toMatch(/repetitionWindow/);
    }
    model.dispose();
  });

  it('is not in snapshots (a fixed 32-byte header); versions 2 and 1 (which held 256 tokens, and an f32 state) still restore', async () => {
    const model = await loadModel(await convertFixture('mamba2-tiny-hf'), { wasm: WASM, stateType: 'f32' });
    const s = model.createSession();
    s.feed([5, 17, 3, 99]);
    const v3 = s.snapshot();
    expect(v3.length).toBe(32 + model.stateBytes);
    expect(snapshotSize(model.stateBytes)).toBe(v3.length);
    expect(new DataView(v3.buffer).getUint32(24, true)).toBe(0); // f32 state
    // the same session as version 2 wrote it: the fields up to offset 24, then the state
    const v2 = new Uint8Array(24 + model.stateBytes);
    v2.set(v3.subarray(0, 24));
    new DataView(v2.buffer).setUint32(4, 2, true);
    v2.set(v3.subarray(32), 24);
    // and as version 1 wrote it: the last 256 tokens between the header and the state
    const v1 = new Uint8Array(28 + 1024 + model.stateBytes);
    v1.set(v3.subarray(0, 24));
    const dv = new DataView(v1.buffer);
    dv.setUint32(4, 1, true);
    dv.setUint32(24, 4, true);
    [5, 17, 3, 99].forEach((t, i) => dv.setInt32(28 + 4 * i, t, true));
    v1.set(v3.subarray(32), 28 + 1024);
    expect(model.restoreSession(v3).feed([8])).toEqual(model.restoreSession(v2).feed([8]));
    const fromV1 = model.restoreSession(v1), fromV2 = model.restoreSession(v2);
    expect(fromV1.tokensSeen).toBe(4);
    expect(fromV1.feed([8])).toEqual(s.feed([8]));
    expect(fromV2.feed([8])).toEqual(fromV1.lastLogits());
    // version 1's tokens are the penalty's window again: generation goes on as from the original session
    const opts = { temperature: 0, maxTokens: 12, stopAtEos: false, repetitionPenalty: 1e6 };
    const again = model.createSession();
    again.feed([5, 17, 3, 99, 8]);
    const restoredV1 = model.restoreSession(v1);
    restoredV1.feed([8]);
    expect(await tokens(model.generate([], { ...opts, session: restoredV1 }))).toEqual(await tokens(model.generate([], { ...opts, session: again })));
    model.dispose();
  });
});
