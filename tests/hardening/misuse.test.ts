// API misuse and values out of range, each refused with a BimambaError naming it: unknown generate()
// options (with the nearest known name), feed() re-entered from its own onLogits, a snapshot's tokens seen
// past any real count, a model config whose special tokens lie past the vocabulary or whose dt clamp is
// reversed, and zip archives whose entries are corrupt or named twice (SECURITY.md).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE_OPTION_NAMES } from '../../src/generate/generate.js';
import { nearestName } from '../../src/generate/nearest-name.js';
import { readTorchCheckpoint } from '../../src/format/torch.js';
import { bytesSource, readZipDirectory, readZipEntry } from '../../src/format/zip.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { rejection, thrownBy } from '../util/errors.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { encodeWithHeader } from './mutate.js';
import { stateDictPickle, torchZip, zipOf } from './torch-zip.js';

let model: Model;
let file = '';
beforeAll(async () => {
  file = await convertFixture('mamba2-tiny-hf');
  model = await loadModel(file, { wasm: WASM });
});
afterAll(() => model.dispose());

describe('generate() options', () => {
  it('an unknown option is refused, naming it and the nearest known one', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ max_tokens: 4 }, 'max_tokens', 'maxTokens'],
      [{ temprature: 0 }, 'temprature', 'temperature'],
      [{ top_p: 0.5 }, 'top_p', 'topP'],
      [{ stop_at_eos: false }, 'stop_at_eos', 'stopAtEos'],
      [{ maxTokens: 2, logprob: true }, 'logprob', 'logprobs'],
    ];
    for (const [options, name, nearest] of cases) {
      const e = await rejection(model.complete([1, 2, 3], options));
      expect(e.code).toBe('BAD_ARGUMENT');
      expect(e.message).toBe(`unknown option "${name}"; did you mean "${nearest}"?`);
      // the streaming form too, before a token is fed
      await expect(model.generate([1, 2, 3], options).next()).rejects.toThrow(`unknown option "${name}"`);
    }
  });

  it('every known option is accepted, and the list is the one exported set', async () => {
    const done = await model.complete([1, 2, 3], {
      maxTokens: 2, seed: 1, temperature: 0.5, topK: 10, topP: 0.9, minP: 0.01, repetitionPenalty: 1.1, repetitionWindow: 8,
      stop: ['x'], abort: 'finish', logprobs: 2, addBos: false, stopAtEos: true, signal: new AbortController().signal, session: undefined,
    });
    expect(done.usage.generatedTokens).toBe(2);
    expect([...GENERATE_OPTION_NAMES].sort()).toEqual(['abort', 'addBos', 'grammar', 'json', 'jsonSchema', 'logprobs', 'maxTokens', 'minP', 'repetitionPenalty', 'repetitionWindow', 'seed', 'session', 'signal', 'stop', 'stopAtEos', 'temperature', 'topK', 'topP']);
    expect(nearestName('x'.repeat(100_000), [...GENERATE_OPTION_NAMES])).toBeTypeOf('string'); // a long key costs no more than 100 characters
  });
});

describe('session.feed() re-entered', () => {
  it('from its own onLogits is refused and leaves the state as one feed makes it', () => {
    const s = model.createSession();
    const errors: unknown[] = [];
    const logits = s.feed([5, 6, 7], () => {
      try {
        s.feed([9]);
      } catch (e) {
        errors.push(e);
      }
    });
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/feed\(\) called on a session from its own feed's onLogits/) });
    expect(s.tokensSeen).toBe(3);
    const fresh = model.createSession();
    expect(Array.from(logits)).toEqual(Array.from(fresh.feed([5, 6, 7])));
    expect(thrownBy(() => s.feed([1], () => s.reset())).message).toMatch(/reset\(\) called on a session from its own feed's onLogits/);
    // another session may still be fed from the callback, and this one again once feed() returned
    const other = model.createSession();
    s.feed([8], () => void other.feed([8]));
    expect(other.tokensSeen).toBe(1);
    for (const x of [s, fresh, other]) x.dispose();
  });

  it('an onLogits that disposes its session ends the feed with DISPOSED before the next chunk', async () => {
    const small = await loadModel(file, { wasm: WASM, prefillChunk: 2 });
    const s = small.createSession();
    let calls = 0;
    const e = thrownBy(() => s.feed([1, 2, 3, 4, 5], () => { calls++; s.dispose(); }));
    expect(e.code).toBe('DISPOSED');
    expect(calls).toBe(2); // the first chunk's two positions, then no more
    small.dispose();
  });
});

describe('numbers out of range', () => {
  it("a snapshot whose tokens seen is 1e308 (or 2^53) is refused", () => {
    const s = model.createSession();
    s.feed([1, 2]);
    for (const seen of [1e308, 2 ** 53, Infinity]) {
      const snap = s.snapshot();
      new DataView(snap.buffer, snap.byteOffset).setFloat64(16, seen, true);
      const e = thrownBy(() => model.restoreSession(snap));
      expect(e.code).toBe('BAD_FORMAT');
      expect(e.message).toMatch(/snapshot header is corrupt \(tokens seen/);
    }
    s.dispose();
  });

  it('a .bimamba config whose special tokens lie past the vocabulary, or whose time_step_limit is reversed, is refused', async () => {
    const bytes = new Uint8Array(await readFile(file));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    delete header.__metadata__.checksums;
    const edits: [(c: Record<string, unknown>) => void, RegExp][] = [
      [(c) => { c.bos_token_id = 1_000_000; }, /"bos_token_id" is 1000000, past the vocabulary/],
      [(c) => { c.eos_token_id = c.vocab_size; }, /"eos_token_id" is \d+, past the vocabulary/],
      [(c) => { c.time_step_limit = [0.5, 0.1]; }, /"time_step_limit" must end at a number >= its start/],
      [(c) => { c.time_step_limit = [-1, null]; }, /"time_step_limit" must start at a finite number >= 0/],
    ];
    for (const [edit, message] of edits) {
      const config = JSON.parse(header.__metadata__.config);
      edit(config);
      const edited = { ...header, __metadata__: { ...header.__metadata__, config: JSON.stringify(config) } };
      const e = await rejection(loadModel(encodeWithHeader(edited, bytes.subarray(8 + n)), { wasm: WASM }));
      expect(e.code).toBe('BAD_FORMAT');
      expect(e.message).toMatch(message);
    }
  });
});

describe('zip archives', () => {
  const storage = Uint8Array.from({ length: 64 }, (_, i) => i * 3);
  const views = [{ name: 'a', offset: 0, numel: 32 }, { name: 'b', offset: 32, numel: 32 }];

  it('a flipped bit in a stored entry is refused by its CRC-32, when a tensor reads only a part of it too', async () => {
    for (const deflate of [false, true]) {
      const archive = torchZip(views, storage, { deflate });
      const good = await readTorchCheckpoint(bytesSource(archive), 'ok.bin');
      expect(Array.from(await good.get('b')!.read())).toEqual(Array.from(storage.subarray(32)));
      const bad = archive.slice();
      const entry = (await readZipDirectory(bytesSource(archive), 'x')).get('archive/data/0')!;
      if (deflate) {
        // a deflated entry whose CRC field lies: the same check, after inflating
        const cd = new DataView(bad.buffer);
        const name = new TextEncoder().encode(entry.name);
        for (let p = 0; p + 46 + name.length <= bad.length; p++) {
          if (cd.getUint32(p, true) === 0x02014b50 && name.every((c, k) => bad[p + 46 + k] === c)) cd.setUint32(p + 16, entry.crc32 ^ 1, true);
        }
      } else {
        // a bit of tensor "b"'s part of the storage (zipOf writes no extra field in local headers)
        bad[entry.localHeaderOffset + 30 + entry.name.length + 40] ^= 1;
      }
      const ckpt = await readTorchCheckpoint(bytesSource(bad), 'flipped.bin');
      const e = await rejection(ckpt.get('a')!.read()); // 'a' holds none of the flipped bytes: the whole entry is checked
      expect(e.code).toBe('BAD_FORMAT');
      expect(e.message).toMatch(/entry "archive\/data\/0" is corrupt: its CRC-32 is [0-9a-f]{8}, the archive says [0-9a-f]{8}/);
    }
  });

  it('an entry named twice, or named otherwise in its local header, is refused', async () => {
    const pkl = stateDictPickle(views, storage.length);
    const twice = zipOf([
      { name: 'archive/data.pkl', data: pkl, method: 0, size: pkl.length },
      { name: 'archive/data/0', data: storage, method: 0, size: storage.length },
      { name: 'archive/data/0', data: storage.map((b) => b ^ 0xff), method: 0, size: storage.length },
    ]);
    const e = await rejection(readZipDirectory(bytesSource(twice), 'twice.bin'));
    expect(e.message).toMatch(/twice\.bin: entry "archive\/data\/0" appears twice in the central directory/);

    const archive = torchZip(views, storage);
    const renamed = archive.slice();
    const first = new TextEncoder().encode('archive/data/0');
    const local = renamed.findIndex((_, i) => first.every((b, k) => renamed[i + k] === b)); // the local header's copy comes first
    renamed[local + first.length - 1] = '1'.charCodeAt(0); // the local header says archive/data/1
    const entries = await readZipDirectory(bytesSource(renamed), 'renamed.bin');
    const e2 = await rejection(readZipEntry(bytesSource(renamed), entries.get('archive/data/0')!, 'renamed.bin'));
    expect(e2.message).toMatch(/entry "archive\/data\/0" is named "archive\/data\/1" in its local header/);
  });
});
