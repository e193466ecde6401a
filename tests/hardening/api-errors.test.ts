// Misuse of the API and broken sources raise a BimambaError with a code, never a TypeError, a
// RangeError or a Node system error; and what a file says is printed with its control characters escaped.
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { unpickleStateDict } from '../../src/format/pickle.js';
import { readTorchCheckpoint } from '../../src/format/torch.js';
import { bytesSource, readZipDirectory } from '../../src/format/zip.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { createStreamDecoder, MAX_HELD_TOKENS } from '../../src/tokenizer/stream.js';
import { copyFixture } from '../convert/helpers.js';
import { rejection, thrownBy } from '../util/errors.js';
import { byteTokenizerJson, convertFixture, loadWithByteTokenizer, tokenizerPath } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { encodeWithHeader } from './mutate.js';
import { stateDictPickle, torchZip, zipOf } from './torch-zip.js';

let model: Model;
let other: Model;
let modelPath: string;
beforeAll(async () => {
  modelPath = await convertFixture('mamba1-tiny-hf');
  model = await loadWithByteTokenizer('mamba1-tiny-hf');
  other = await loadModel(modelPath, { wasm: WASM });
});
afterAll(() => {
  model?.dispose();
  other?.dispose();
});

/** Drain a generation; the BimambaError it ends with. */
async function generationError(gen: AsyncGenerator<unknown>) {
  return rejection((async () => { for await (const _ of gen); })());
}

describe('sources that cannot be read', () => {
  it('a directory given as the model', async () => {
    const e = await rejection(loadModel(tmpdir(), { wasm: WASM }));
    expect(e.code).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(/is a directory/);
  });

  it('a fetch that fails, and a stream that errors or gives something other than bytes', async () => {
    expect((await rejection(loadModel('http://127.0.0.1:9/model.bimamba', { wasm: WASM }))).message).toMatch(/cannot fetch/);
    const bytes = new Uint8Array(await readFile(modelPath));
    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.subarray(0, 4096));
        c.error(new Error('connection reset'));
      },
    });
    const e = await rejection(loadModel(failing, { wasm: WASM }));
    expect(e.code).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(/reading model stream failed: connection reset/);
    const strings = new ReadableStream({ start(c) { c.enqueue('not bytes'); c.close(); } }) as unknown as ReadableStream<Uint8Array>;
    expect((await rejection(loadModel(strings, { wasm: WASM }))).message).toMatch(/other than bytes/);
  });

  it('a wasm path that does not exist', async () => {
    const e = await rejection(loadModel(modelPath, { wasm: join(tmpdir(), 'no-such-core.wasm') }));
    expect(e.code).toBe('WASM_LOAD');
    expect(e.message).toMatch(/no-such-core\.wasm/);
  });

  it('a checkpoint whose config.json is a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bimamba-cfgdir-'));
    await copyFixture('mamba1-tiny-hf', dir);
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, 'config.json'));
    await mkdir(join(dir, 'config.json'));
    const e = await rejection(convertCheckpoint(dir, join(dir, 'out.bimamba'), { onWarning: () => {} }));
    expect(e.code).toBe('BAD_CHECKPOINT');
    expect(e.message).toMatch(/config\.json/);
  });

  it('a zip whose ZIP64 extra field is cut short', async () => {
    const archive = zipOf([{ name: 'archive/data.pkl', data: new Uint8Array(4), method: 0, size: 4 }]);
    // mark the size as 0xFFFFFFFF (read it from ZIP64) and give the entry a 4-byte ZIP64 field instead of 8
    const cd = archive.length - 22 - (46 + 'archive/data.pkl'.length);
    const v = new DataView(archive.buffer);
    v.setUint32(cd + 24, 0xffffffff, true);
    const withExtra = new Uint8Array(archive.length + 8);
    withExtra.set(archive.subarray(0, cd + 46 + 16));
    new DataView(withExtra.buffer).setUint16(cd + 30, 8, true); // extra field length
    withExtra.set([1, 0, 4, 0, 0, 0, 0, 0], cd + 46 + 16); // id 1, 4 bytes
    withExtra.set(archive.subarray(cd + 46 + 16), cd + 46 + 16 + 8);
    const ev = new DataView(withExtra.buffer);
    ev.setUint32(withExtra.length - 22 + 12, 46 + 16 + 8, true); // central directory size
    const e = await rejection(readZipDirectory(bytesSource(withExtra), 'pytorch_model.bin'));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/truncated ZIP64 extra field/);
  });
});

describe('arguments', () => {
  it('generate() with a prompt that is neither text nor token ids', async () => {
    for (const prompt of [null, undefined, 42, { length: -1 }, { length: 1.5 }]) {
      expect((await generationError(model.generate(prompt as never, { maxTokens: 1 }))).code).toBe('BAD_ARGUMENT');
    }
  });

  it('a hostile array-like is refused before anything of its size is allocated', async () => {
    const huge = { length: 1e9 } as ArrayLike<number>;
    const t0 = performance.now();
    expect(thrownBy(() => model.logits(huge)).code).toBe('BAD_TOKEN');
    expect((await generationError(model.generate(huge, { maxTokens: 1 }))).code).toBe('BAD_TOKEN');
    expect(thrownBy(() => model.createSession().feed(huge)).code).toBe('BAD_TOKEN');
    expect(performance.now() - t0).toBeLessThan(200);
    expect(thrownBy(() => model.logits(null as never)).code).toBe('BAD_ARGUMENT');
  });

  it('a session that is not a session, or belongs to another model', async () => {
    expect((await generationError(model.generate([1, 2], { session: {} as never, maxTokens: 1 }))).message).toMatch(/session must be a Session/);
    const foreign = other.createSession();
    expect((await generationError(model.generate([1, 2], { session: foreign, maxTokens: 1 }))).message).toMatch(/another model/);
    foreign.dispose();
  });

  it('two generations at once on one session: the second is refused, the first goes on unharmed', async () => {
    const session = model.createSession();
    const first = model.generate([1, 2, 3], { session, maxTokens: 4, seed: 1, stopAtEos: false });
    const tokens = [(await first.next()).value.token];
    expect((await generationError(model.generate([4], { session, maxTokens: 4 }))).message).toMatch(/already generating/);
    for await (const t of first) tokens.push(t.token);
    expect(tokens.length).toBe(4);
    // once it ended, the session may generate again
    for await (const _ of model.generate([5], { session, maxTokens: 1 }));
    session.dispose();
  });
});

describe('what a file says', () => {
  it('a tokenizer with an empty vocabulary is refused at load', () => {
    const t = JSON.parse(byteTokenizerJson());
    t.model.vocab = {};
    t.added_tokens = [];
    expect(thrownBy(() => loadTokenizer(t)).message).toMatch(/vocabulary is empty/);
  });

  it('storage types are looked up as own properties: torch.__proto__ and friends are unsafe globals', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const e = thrownBy(() => unpickleStateDict(stateDictPickle([{ name: 'w', offset: 0, numel: 1 }], 1, name), 'data.pkl'));
      expect(e.code, name).toBe('UNSAFE_PICKLE');
    }
  });

  it('control characters from a file are escaped in error messages', () => {
    const e = thrownBy(() => unpickleStateDict(stateDictPickle([{ name: 'w', offset: 0, numel: 1 }], 1, 'Evil\x1b]0;owned\x07Storage'), 'data.pkl'));
    expect(e.code).toBe('UNSAFE_PICKLE');
    expect(e.message).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(e.message).toContain('\\u001b]0;owned\\u0007');
  });

  it('tokenizer pipelines: at most 16 steps, inserted strings of at most 64 characters', () => {
    const t = JSON.parse(byteTokenizerJson());
    // the Sequence itself is one of the steps
    t.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 16 }, () => ({ type: 'NFC' })) };
    expect(thrownBy(() => loadTokenizer(t)).message).toMatch(/more than 16 steps/);
    t.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 15 }, () => ({ type: 'Strip', left: true, right: true })) };
    loadTokenizer(t).encode('16 steps are fine');
    t.normalizer = { type: 'Prepend', prepend: 'x'.repeat(65) };
    expect(thrownBy(() => loadTokenizer(t)).message).toMatch(/"prepend" is 65 characters, over the limit of 64/);
  });

  it('JSON from a file nested past the limits is refused before it is parsed', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(thrownBy(() => loadTokenizer(`{"model":${deep(64)}}`)).message).toMatch(/nested more than 64 levels/);
    const bytes = new Uint8Array(await readFile(modelPath));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    json.__metadata__.config = deep(100);
    const { readBimambaHeader } = await import('../../src/format/bimamba.js');
    expect(thrownBy(() => readBimambaHeader(encodeWithHeader(json, bytes.subarray(8 + n)))).message).toMatch(/"config": JSON nested more than 64/);
    expect(thrownBy(() => readBimambaHeader(encodeWithHeader({ t: { dtype: 'U8', shape: JSON.parse(deep(8)), data_offsets: [0, 0] } }, new Uint8Array(0)))).message).toMatch(/nested more than 8/);
  });

  it('a compressed storage viewed by many tensors is inflated once, and each view reads its own bytes', async () => {
    const storage = crypto.getRandomValues(new Uint8Array(65536)); // incompressible: the compressed bytes are one big read
    const views = Array.from({ length: 8 }, (_, i) => ({ name: `w${i}`, offset: i * 8192, numel: 8192 }));
    const archive = torchZip(views, storage, { deflate: true });
    const src = bytesSource(archive);
    const pickleLength = stateDictPickle(views, storage.length).length;
    let bigReads = 0; // reads of the compressed bytes: not the pickle, not the zip directory at the end
    const counting = { size: src.size, read: (offset: number, length: number) => { if (length > 1000 && length !== pickleLength && offset + length < src.size) bigReads++; return src.read(offset, length); } };
    const tensors = await readTorchCheckpoint(counting, 'pytorch_model.bin');
    for (const [i, t] of [...tensors.values()].entries()) expect(await t.read()).toEqual(storage.subarray(i * 8192, (i + 1) * 8192));
    expect(bigReads).toBe(1); // the compressed bytes were read, and inflated, once
  });

  it('a long run of byte tokens that never completes a character streams in work linear in its length', async () => {
    const llama = loadTokenizer(await readFile(tokenizerPath('llama2'), 'utf8'));
    const e2 = llama.tokenToId('<0xE2>')!;
    let decoded = 0; // ids decoded in all: a window that grew with the run made this quadratic
    const stream = createStreamDecoder((ids) => { decoded += ids.length; return llama.decode(ids); });
    let text = '';
    for (let i = 0; i < 8000; i++) text += stream.push(e2);
    text += stream.flush();
    expect(decoded).toBeLessThan(8000 * 2 * (MAX_HELD_TOKENS + 2)); // was 8000^2 / 2
    expect(text).toBe(llama.decode(new Array(8000).fill(e2)));
  });
});
