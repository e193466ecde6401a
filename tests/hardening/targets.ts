// Fuzz targets: every parser of untrusted input, each with the inputs to throw at it (real files,
// mutated, and documents generated from scratch) and what it must do with them: load, or raise a
// BimambaError. Shared by tests/hardening/fuzz.test.ts (a few thousand cases) and scripts/fuzz.ts
// (`npm run fuzz`, a hundred thousand and more).
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { normalizeConfig, parseConfigJson } from '../../src/convert/config.js';
import { loadBimambaFile, readBimambaHeader } from '../../src/format/bimamba.js';
import { readChecksums } from '../../src/format/checksums.js';
import { unpickleStateDict } from '../../src/format/pickle.js';
import { DTYPE_BYTES, parseSafetensorsHeader } from '../../src/format/safetensors.js';
import { readTorchCheckpoint } from '../../src/format/torch.js';
import { bytesSource, readZipDirectory, readZipEntry } from '../../src/format/zip.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Heap } from '../../src/wasm/heap.js';
import { byteTokenizerJson, checkpointDir, convertFixture, FIXTURE_NAMES, loadWithByteTokenizer, tokenizerPath } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { createApp } from '../../src/server/app.js';
import { MemoryStore } from '../../src/server/store.js';
import { boundedRepetitionRegex, httpRequest, nestedHeader, picklePayload, repetitionPrompt, sharedStorageZip, tokenizerDoc, tokenizerPrompt, type FuzzRequest } from './generators.js';
import { editedJson, encodeWithHeader, mutatedBytes, type Seed } from './mutate.js';

export interface Target {
  name: string;
  /** Cases `npm test` runs (the fuzz script runs many times more). */
  testRuns: number;
  input: fc.Arbitrary<unknown>;
  /** Parse or load the input; throw only BimambaError. May check what it loaded. */
  run(input: unknown): Promise<void> | void;
}

export interface Targets {
  targets: Target[];
  dispose(): void;
}

const read = (fixture: string, file: string) => new Uint8Array(readFileSync(join(checkpointDir(fixture), file)));

/** Header length and JSON of a safetensors-style file. */
function headerOf(bytes: Uint8Array): { dataStart: number; json: Record<string, unknown> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { dataStart: 8 + n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

/** A safetensors seed: the header is where the parsing happens. */
function safetensorsSeed(name: string, bytes: Uint8Array): Seed {
  return { name, bytes, hot: [[0, headerOf(bytes).dataStart]] };
}

/** A torch zip seed: hot where the zip and pickle parsers read (local headers, data.pkl, the central directory). */
async function torchSeed(name: string, bytes: Uint8Array): Promise<{ seed: Seed; pickle: Uint8Array }> {
  const src = bytesSource(bytes);
  const entries = await readZipDirectory(src, name);
  const hot: [number, number][] = [];
  let pickle: Uint8Array = new Uint8Array(0);
  let firstEntry = bytes.length;
  for (const e of entries.values()) {
    hot.push([e.localHeaderOffset, Math.min(bytes.length, e.localHeaderOffset + 30 + e.name.length)]);
    firstEntry = Math.min(firstEntry, e.localHeaderOffset);
    if (e.name.endsWith('data.pkl')) {
      pickle = await readZipEntry(src, e, name);
      hot.push([e.localHeaderOffset + 30 + e.name.length, e.localHeaderOffset + 30 + e.name.length + e.size + 64]);
    }
  }
  // the central directory and end records sit after the last entry's data; the last few KiB hold them
  hot.push([Math.max(0, bytes.length - 4096), bytes.length]);
  return { seed: { name, bytes, hot }, pickle };
}

// ---- tokenizers: small ones of every model type the library supports ----

function llamaStyleTokenizer(): object {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const t of ['▁', 'a', 'b', 'l', 'o', '▁a', 'lo', '▁lo']) vocab[t] = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true }],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: true, fuse_unk: true, vocab, merges: ['▁ a', 'l o', '▁ lo'] },
  };
}

function wordPieceTokenizer(): object {
  const vocab: Record<string, number> = {};
  for (const t of ['[UNK]', '[CLS]', '[SEP]', 'hello', 'wo', '##r', '##ld', 'a', '##b', '1', '##2']) vocab[t] = Object.keys(vocab).length;
  return {
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

function unigramTokenizer(): object {
  const pieces = ['<unk>', '▁', 'h', 'e', 'l', 'o', '▁he', 'llo', 'w', 'r', 'd', '1', '2', '3'];
  return {
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces.map((p, i) => [p, -i - 1]) },
  };
}

function splitRegexTokenizer(): object {
  const t = JSON.parse(byteTokenizerJson());
  t.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  return t;
}

const SAMPLE_TEXT = 'Hello wörld 123 <s> 😀 a  b\n';

// ---- pickle opcodes generated from scratch ----

const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string) => [...new TextEncoder().encode(s)];

/** One opcode with a plausible payload (sometimes a hostile one). */
const pickleOp: fc.Arbitrary<readonly number[]> = fc.oneof(
  fc.constantFrom([0x28], [0x7d], [0x5d], [0x29], [0x4e], [0x88], [0x89], [0x74], [0x85], [0x86], [0x87], [0x6c], [0x61], [0x65], [0x64], [0x73], [0x75], [0x94], [0x30], [0x31], [0x32], [0x52], [0x62], [0x51], [0x2e], [0x80, 2]),
  fc.nat({ max: 255 }).map((n) => [0x4b, n]),
  fc.nat({ max: 255 }).map((n) => [0x71, n]),
  fc.nat({ max: 255 }).map((n) => [0x68, n]),
  fc.nat().map((n) => [0x72, ...u32le(n)]),
  fc.nat().map((n) => [0x6a, ...u32le(n)]),
  fc.integer().map((n) => [0x4a, ...u32le(n)]),
  fc.uint8Array({ maxLength: 12 }).map((b) => [0x8a, b.length, ...b]),
  fc.string({ maxLength: 12 }).map((s) => [0x8c, str(s).length, ...str(s)]),
  fc.string({ maxLength: 12 }).map((s) => [0x58, ...u32le(str(s).length), ...str(s)]),
  fc.nat().map((n) => [0x58, ...u32le(n)]), // a length that runs past the end
  fc.constantFrom(
    [0x63, ...str('collections\nOrderedDict\n')],
    [0x63, ...str('torch._utils\n_rebuild_tensor_v2\n')],
    [0x63, ...str('torch\nFloatStorage\n')],
    [0x63, ...str('os\nsystem\n')],
    [0x63, ...str('builtins\neval\n')],
    [0x8c, 7, ...str('storage')],
    [0x93],
    [0x81], [0x69], [0x6f], [0x92], [0x82],
  ),
);

/** Build every target over the fixtures; `dispose()` frees the models it loaded. */
export async function buildTargets(): Promise<Targets> {
  const tokPath = join(tmpdir(), `bimamba-fuzz-tokenizer-${process.pid}.json`);
  writeFileSync(tokPath, byteTokenizerJson());
  const bimambaPaths = [
    await convertFixture('mamba1-tiny-hf'),
    await convertFixture('bimamba-tiny', { tokenizer: tokPath }),
    await convertFixture('mamba2-tiny-hf', { dtype: 'f16', head: 'int8' }),
  ];
  const bimambaFiles = bimambaPaths.map((p) => new Uint8Array(readFileSync(p)));
  const bimambaSeeds = bimambaFiles.map((b, i) => safetensorsSeed(`converted ${i}`, b));
  const safetensorsSeeds = [
    safetensorsSeed('mamba1-tiny-hf', read('mamba1-tiny-hf', 'model.safetensors')),
    safetensorsSeed('mamba2-tiny-hf', read('mamba2-tiny-hf', 'model.safetensors')),
  ];
  const torch = [
    await torchSeed('bimamba-tiny', read('bimamba-tiny', 'pytorch_model.bin')),
    await torchSeed('mamba1-tiny-ssm', read('mamba1-tiny-ssm', 'pytorch_model.bin')),
  ];
  const pickleSeeds: Seed[] = torch.map((t) => ({ name: t.seed.name, bytes: t.pickle, hot: [] }));
  const tokenizerDocs = [JSON.parse(byteTokenizerJson()), llamaStyleTokenizer(), wordPieceTokenizer(), unigramTokenizer(), splitRegexTokenizer()];
  const tokenizerTexts: Seed[] = tokenizerDocs.map((d, i) => ({ name: `tokenizer ${i}`, bytes: new TextEncoder().encode(JSON.stringify(d)), hot: [] }));
  const configTexts = FIXTURE_NAMES.map((f) => ({ name: f, bytes: read(f, 'config.json'), hot: [] as [number, number][] }));

  // structural edits of headers: the JSON, and the config inside a .bimamba file's metadata
  const headerDocs = [...bimambaFiles, ...safetensorsSeeds.map((s) => s.bytes)].map((b) => ({ ...headerOf(b), bytes: b }));
  const editedHeader = fc.nat({ max: headerDocs.length - 1 }).chain((i) =>
    editedJson([headerDocs[i].json]).map((json) => encodeWithHeader(json, headerDocs[i].bytes.subarray(headerDocs[i].dataStart))));
  const bimambaDocs = bimambaFiles.map((b) => ({ ...headerOf(b), bytes: b }));
  const editedConfig = fc.nat({ max: bimambaDocs.length - 1 }).chain((i) => {
    const doc = bimambaDocs[i];
    const meta = doc.json.__metadata__ as Record<string, string>;
    return editedJson([JSON.parse(meta.config)]).map((config) =>
      encodeWithHeader({ ...doc.json, __metadata__: { ...meta, config: JSON.stringify(config) } }, doc.bytes.subarray(doc.dataStart)));
  });
  // headers generated from scratch: any names, dtypes, shapes and offsets
  const scratchHeader = fc.record({
    tensors: fc.dictionary(fc.string({ maxLength: 8 }), fc.record({
      dtype: fc.constantFrom(...Object.keys(DTYPE_BYTES), 'F31', ''),
      shape: fc.array(fc.oneof(fc.nat({ max: 8 }), fc.integer(), fc.double(), fc.constant(2 ** 53)), { maxLength: 4 }),
      data_offsets: fc.tuple(fc.nat({ max: 64 }), fc.oneof(fc.nat({ max: 64 }), fc.integer())),
    }), { maxKeys: 6 }),
    metadata: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 3 })),
    data: fc.uint8Array({ maxLength: 64 }),
  }).map(({ tensors, metadata, data }) => encodeWithHeader(metadata === null ? tensors : { __metadata__: metadata, ...tensors }, data, 8));
  const rawBytes = fc.uint8Array({ maxLength: 128 });

  const heap = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 65536 }), 1024, 64 * 1024 * 1024);
  const snapshotModel: Model = await loadModel(bimambaPaths[0], { wasm: WASM });
  const snapshotSession = snapshotModel.createSession();
  snapshotSession.feed([3, 1, 4, 1, 5]);
  // LLaMA's tokenizer.model: the pieces come first, the trainer and normalizer specs at the end.
  const llamaModel = new Uint8Array(readFileSync(tokenizerPath('llama2', 'model')));
  const sentencePieceSeeds: Seed[] = [{ name: 'llama2.tokenizer.model', bytes: llamaModel, hot: [[0, 4096], [llamaModel.length - 4096, llamaModel.length]] }];
  const snapshotSeeds: Seed[] = [{ name: 'snapshot', bytes: snapshotSession.snapshot(), hot: [[0, 64]] }];
  const models: Model[] = [snapshotModel];
  // the HTTP server with every guard on: keys, a Host list, one CORS origin, small caps and timeouts
  const httpStore = new MemoryStore(8 * 1024 * 1024);
  const httpModel = await loadWithByteTokenizer('bimamba-tiny');
  models.push(httpModel);
  const httpApp = createApp({
    model: httpModel, store: httpStore, apiKeys: ['fuzz-key-0001'], allowedHosts: ['bimamba.test'], corsOrigins: ['https://ok.example'],
    maxTokens: 4, maxPromptLength: 256, requestTimeout: 1.5, writeTimeout: 1, maxSessionsPerOwner: 4,
  });

  const targets: Target[] = [
    {
      name: 'safetensors header',
      testRuns: 500,
      input: fc.oneof(mutatedBytes([...safetensorsSeeds, ...bimambaSeeds]), editedHeader, scratchHeader, rawBytes),
      run: (bytes) => void parseSafetensorsHeader(bytes as Uint8Array, { fileSize: (bytes as Uint8Array).length }),
    },
    {
      name: '.bimamba header and config',
      testRuns: 400,
      input: fc.oneof(mutatedBytes(bimambaSeeds), editedConfig, editedHeader),
      run: (bytes) => void readBimambaHeader(bytes as Uint8Array, { fileSize: (bytes as Uint8Array).length }),
    },
    {
      name: '.bimamba load (verified)',
      testRuns: 250,
      input: fc.tuple(mutatedBytes(bimambaSeeds), fc.boolean()),
      run: async (input) => {
        const [bytes, verify] = input as [Uint8Array, boolean];
        let loaded;
        try {
          loaded = await loadBimambaFile(bytes, heap, { verify });
        } finally {
          // whatever happened, the loader gave back what it allocated or handed it to us
          if (!loaded && heap.allocatedBytes !== 0) throw new Error(`the loader leaked ${heap.allocatedBytes} bytes on an error`);
        }
        try {
          if (verify) checkSameAsOriginal(loaded.tensors, heap, bimambaFiles);
        } finally {
          heap.release(loaded.dataPtr);
        }
      },
    },
    {
      name: 'model load and run',
      testRuns: 30,
      input: mutatedBytes(bimambaSeeds),
      run: async (bytes) => {
        const model = await loadModel(bytes as Uint8Array, { wasm: WASM, maxMemoryBytes: 256 * 1024 * 1024 });
        try {
          model.logits([0, 1, 2]);
        } finally {
          model.dispose();
        }
      },
    },
    {
      name: 'pickle',
      testRuns: 400,
      input: fc.oneof(mutatedBytes(pickleSeeds), fc.array(pickleOp, { maxLength: 40 }).map((ops) => Uint8Array.from([0x80, 2, ...ops.flat(), 0x2e]))),
      run: (bytes) => void unpickleStateDict(bytes as Uint8Array, 'data.pkl'),
    },
    {
      name: 'torch zip checkpoint',
      testRuns: 200,
      input: mutatedBytes(torch.map((t) => t.seed)),
      run: async (bytes) => {
        const tensors = await readTorchCheckpoint(bytesSource(bytes as Uint8Array), 'pytorch_model.bin');
        for (const t of tensors.values()) await t.read();
      },
    },
    {
      name: 'tokenizer.json',
      testRuns: 300,
      input: fc.oneof(editedJson(tokenizerDocs).map((d) => JSON.stringify(d) ?? 'null'), mutatedBytes(tokenizerTexts).map((b) => new TextDecoder().decode(b))),
      run: (text) => {
        const tok = loadTokenizer(text as string);
        const ids = tok.encode(SAMPLE_TEXT);
        tok.decode(ids.filter((id) => tok.idToToken(id) !== null));
        const stream = tok.createStreamDecoder();
        for (const id of ids) if (tok.idToToken(id) !== null) stream.push(id);
      },
    },
    {
      name: 'tokenizer.model (SentencePiece)',
      testRuns: 100,
      input: mutatedBytes(sentencePieceSeeds),
      run: (bytes) => {
        const tok = loadTokenizer(bytes as Uint8Array);
        const ids = tok.encode(SAMPLE_TEXT);
        tok.decode(ids);
        const stream = tok.createStreamDecoder();
        for (const id of ids) stream.push(id);
      },
    },
    {
      name: 'tokenizer.json from scratch',
      testRuns: 200,
      input: fc.tuple(tokenizerDoc, tokenizerPrompt),
      run: (input) => {
        const [text, prompt] = input as [string, string];
        const tok = loadTokenizer(text);
        const ids = tok.encode(prompt).filter((id) => tok.idToToken(id) !== null);
        tok.decode(ids);
        const stream = tok.createStreamDecoder();
        for (const id of ids) stream.push(id);
        stream.flush();
      },
    },
    {
      name: 'pickle integers and strings',
      testRuns: 100,
      input: picklePayload,
      run: (bytes) => void unpickleStateDict(bytes as Uint8Array, 'data.pkl'),
    },
    {
      name: 'zip storage sharing',
      testRuns: 40,
      input: sharedStorageZip,
      run: async (bytes) => {
        const tensors = await readTorchCheckpoint(bytesSource(bytes as Uint8Array), 'pytorch_model.bin');
        for (const t of tensors.values()) await t.read();
      },
    },
    {
      name: 'header nesting',
      testRuns: 60,
      input: nestedHeader,
      run: (bytes) => {
        const b = bytes as Uint8Array;
        const h = parseSafetensorsHeader(b, { fileSize: b.length });
        // the JSON inside the metadata: checksums and tokenizer are parsed where they are used
        if (h.metadata.checksums !== undefined) readChecksums(h.metadata, h.tensors, 'header');
        if (h.metadata.tokenizer !== undefined) loadTokenizer(h.metadata.tokenizer);
        readBimambaHeader(b, { fileSize: b.length });
      },
    },
    {
      name: 'checkpoint config.json',
      testRuns: 200,
      input: fc.oneof(editedJson(configTexts.map((c) => JSON.parse(new TextDecoder().decode(c.bytes)))).map((d) => JSON.stringify(d) ?? 'null'), mutatedBytes(configTexts).map((b) => new TextDecoder().decode(b))),
      run: (text) => void normalizeConfig(parseConfigJson(text as string, 'config.json'), 'config.json'),
    },
    {
      name: 'regex bounded repetition',
      testRuns: 200,
      input: fc.tuple(boundedRepetitionRegex, repetitionPrompt),
      run: (input) => {
        const [regex, prompt] = input as [string, string];
        const t = JSON.parse(byteTokenizerJson());
        t.pre_tokenizer = {
          type: 'Sequence',
          pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }],
        };
        loadTokenizer(t).encode(prompt); // the screen refuses it, or the prompt encodes within the case's time
      },
    },
    {
      // every answer is a status the client can act on (never a 500), an error in OpenAI's shape that
      // echoes no more than a few hundred characters, and the store stays within its cap
      name: 'HTTP request',
      testRuns: 150,
      input: httpRequest,
      run: async (input) => {
        const r = input as FuzzRequest;
        const quiet = console.error;
        let logged = false;
        console.error = (...a: unknown[]) => { logged = true; quiet(...a); };
        let response: Response;
        let text: string;
        try {
          response = await httpApp.fetch(new Request(`http://127.0.0.1${r.path}`, { method: r.method, headers: r.headers, body: r.body }));
          text = await response.text();
        } finally {
          console.error = quiet;
        }
        if (response.status >= 500 && response.status !== 503 && response.status !== 504 || logged) throw new Error(`HTTP ${response.status} (internal error logged: ${logged}) for ${JSON.stringify(r).slice(0, 300)}`);
        if (response.status >= 400 && response.status !== 499) {
          const e = (JSON.parse(text) as { error?: { message?: unknown; type?: unknown } }).error;
          if (typeof e?.message !== 'string' || typeof e.type !== 'string') throw new Error(`HTTP ${response.status} without an OpenAI error: ${text.slice(0, 200)}`);
          if (text.length > 1000) throw new Error(`an error of ${text.length} characters echoes too much`);
        }
        if (httpStore.bytes > httpStore.maxBytes) throw new Error('the store passed its cap');
      },
    },
    {
      name: 'session snapshot',
      testRuns: 150,
      input: mutatedBytes(snapshotSeeds),
      run: (bytes) => {
        const s = snapshotModel.restoreSession(bytes as Uint8Array);
        try {
          s.feed([7]);
        } finally {
          s.dispose();
        }
      },
    },
  ];
  return { targets, dispose: () => models.forEach((m) => m.dispose()) };
}

/** A verified load must give exactly the tensors of one of the original files. */
function checkSameAsOriginal(tensors: Map<string, { ptr: number; byteLength: number }>, heap: Heap, originals: Uint8Array[]): void {
  const matches = originals.some((file) => {
    const h = readBimambaHeader(file, { fileSize: file.length });
    if (h.tensors.length !== tensors.size) return false;
    return h.tensors.every((t) => {
      const got = tensors.get(t.name);
      if (!got || got.byteLength !== t.end - t.begin) return false;
      return Buffer.from(heap.u8(got.ptr, got.byteLength)).equals(file.subarray(h.dataStart + t.begin, h.dataStart + t.end));
    });
  });
  if (!matches) throw new Error('a verified load accepted bytes that differ from every original file');
}
