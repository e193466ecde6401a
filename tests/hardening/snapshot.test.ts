// Snapshots are refused by any model but the one that made them, and from any other format version.
// (tests/model/session.test.ts covers another architecture and a truncated snapshot.)
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { readBimambaHeader } from '../../src/format/bimamba.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { copyFixture, readAllSafetensors, writeSafetensors } from '../convert/helpers.js';
import { WASM } from '../model/fixtures.js';
import { thrownBy } from '../util/errors.js';
import { encodeWithHeader } from './mutate.js';

/** The mamba2 fixture converted from a folder named `ckpt`, with one weight nudged when `nudge`. */
async function convertVariant(nudge: boolean): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bimamba-snap-'));
  const dir = join(root, 'ckpt');
  await mkdir(dir);
  await copyFixture('mamba2-tiny-hf', dir);
  if (nudge) {
    const tensors = await readAllSafetensors(join(dir, 'model.safetensors'));
    const t = tensors.find((x) => x.name === 'backbone.layers.1.mixer.D')!;
    const v = new DataView(t.bytes.buffer, t.bytes.byteOffset);
    v.setFloat32(0, v.getFloat32(0, true) + 0.25, true);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  }
  const out = join(root, 'model.bimamba');
  await convertCheckpoint(dir, out, { onWarning: () => {} });
  return out;
}

function snapshotOf(model: Model): Uint8Array {
  const s = model.createSession();
  s.feed([11, 22, 33, 44]);
  const snap = s.snapshot();
  s.dispose();
  return snap;
}

describe('snapshots', () => {
  it('are refused by a model with the same architecture, config and tokenizer but other weights', async () => {
    const a = await loadModel(await convertVariant(false), { wasm: WASM });
    const b = await loadModel(await convertVariant(true), { wasm: WASM });
    expect(b.config).toEqual(a.config);
    expect(b.fingerprint).not.toBe(a.fingerprint); // the weights' checksums are part of the fingerprint
    const e = thrownBy(() => b.restoreSession(snapshotOf(a)));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/another model/);
    a.dispose();
    b.dispose();
  });

  it('are refused by a twin without checksums: the same header, other weights', async () => {
    const bytes = new Uint8Array(await readFile(await convertVariant(false)));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    delete json.__metadata__.checksums;
    const data = bytes.subarray(8 + n);
    const twinData = data.slice();
    const d = readBimambaHeader(bytes, { fileSize: bytes.length }).tensors.find((t) => t.name === 'layers.1.D')!;
    new DataView(twinData.buffer).setFloat32(d.begin, 0.5, true);
    const a = await loadModel(encodeWithHeader(json, data), { wasm: WASM });
    const b = await loadModel(encodeWithHeader(json, twinData), { wasm: WASM });
    expect(b.fingerprint).not.toBe(a.fingerprint); // without checksums, a CRC of the weights stands for them
    expect(thrownBy(() => b.restoreSession(snapshotOf(a))).message).toMatch(/another model/);
    const again = await loadModel(encodeWithHeader(json, data), { wasm: WASM });
    expect(again.fingerprint).toBe(a.fingerprint);
    for (const m of [a, b, again]) m.dispose();
  });

  it('are accepted by the same file loaded again, whatever the load options, and continue identically', async () => {
    const path = await convertVariant(false);
    const a = await loadModel(path, { wasm: WASM, prefillChunk: 3 });
    const snap = snapshotOf(a);
    const expected = a.restoreSession(snap).feed([5]);
    a.dispose();
    const b = await loadModel(path, { wasm: WASM, verify: true, prefillChunk: 64 });
    expect(Array.from(b.restoreSession(snap).feed([5]))).toEqual(Array.from(expected));
    b.dispose();
  });

  it('of any other format version, or with a corrupt header, are refused with a message saying which', async () => {
    const model = await loadModel(await convertVariant(false), { wasm: WASM });
    const snap = snapshotOf(model);
    const edited = (at: number, write: (v: DataView) => void) => {
      const b = snap.slice();
      write(new DataView(b.buffer, at));
      return b;
    };
    for (const version of [0, 4, 0xffffffff]) {
      const e = thrownBy(() => model.restoreSession(edited(4, (v) => v.setUint32(0, version, true))));
      expect(e.message).toContain(`snapshot format version ${version} is not supported`);
    }
    expect(thrownBy(() => model.restoreSession(edited(0, (v) => v.setUint8(0, 0)))).message).toMatch(/bad magic/);
    expect(thrownBy(() => model.restoreSession(edited(12, (v) => v.setUint32(0, 4, true)))).message).toMatch(/snapshot state is 4 bytes/);
    for (const seen of [-1, 0.5, NaN, Infinity]) {
      expect(thrownBy(() => model.restoreSession(edited(16, (v) => v.setFloat64(0, seen, true)))).message).toMatch(/header is corrupt/);
    }
    expect(thrownBy(() => model.restoreSession(edited(4, (v) => v.setUint32(0, 1, true)))).message).toMatch(/snapshot state is \d+ bytes/); // a version 1 header over a version 3 body
    for (const [at, value] of [[24, 2], [24, 0xffffffff], [28, 1]]) {
      // the state type (0 f32, 1 bf16) and the zero after it
      expect(thrownBy(() => model.restoreSession(edited(at, (v) => v.setUint32(0, value, true)))).message).toMatch(/header is corrupt/);
    }

    const longer = new Uint8Array(snap.length + 1);
    longer.set(snap);
    expect(thrownBy(() => model.restoreSession(longer)).message).toMatch(/bytes/);
    expect(thrownBy(() => model.restoreSession([1, 2, 3] as unknown as Uint8Array)).code).toBe('BAD_ARGUMENT');
    // a refused restore leaves no session behind: the model still makes fresh ones of the same size
    expect(model.createSession().snapshot().length).toBe(snap.length);
    model.dispose();
  });
});
