// The official-weights path as a user runs it, through the built CLI: a weights-only folder of .bin files
// and LLaMA's tokenizer.model -> convert (no config) -> info, tokenize, generate, ppl --protocol bi-mamba.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { linesAsRows, protocolIds } from '../../src/eval/protocol.js';
import { loadModel } from '../../src/model/model.js';
import { releaseConfigJson, writeReleaseFolder } from '../convert/release.js';
import { tokenizerPath } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { bimamba } from '../util/cli.js';

const LLAMA_MODEL = tokenizerPath('llama2', 'model');
const FIXTURE = JSON.parse(readFileSync(fileURLToPath(new URL('../tokenizer/sentencepiece/llama2.sentencepiece.json', import.meta.url)), 'utf8')) as {
  encode: { text: string; ids: number[]; decoded: string }[];
  decode: { ids: number[]; decoded: string }[];
};

const SHAPE = { d_model: 64, n_layer: 2, vocab_size: 32000, d_state: 128, headdim: 64 };
let dir = '';
let model = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bimamba-official-cli-'));
  await writeReleaseFolder(join(dir, 'ckpt-1000'), SHAPE, { 'consolidated.00.bin': () => true });
  copyFileSync(LLAMA_MODEL, join(dir, 'tokenizer.model'));
  model = join(dir, 'bimamba-tiny.bimamba');
  const r = await bimamba(['convert', join(dir, 'ckpt-1000'), model, '--tokenizer', join(dir, 'tokenizer.model')]);
  expect(r.stderr).toMatch(/no config\.json: the config is read off the tensor shapes/);
  expect(r.stderr).toMatch(/nheads 2 \(from backbone\.layers\.0\.mixer\.A_log \[2\]\)/);
  expect(r.code).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the official Bi-Mamba form through the CLI', () => {
  it('info shows the inferred config and the SentencePiece tokenizer', async () => {
    const r = await bimamba(['info', model, '--no-tensors']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/config inferred from the tensor shapes:\n {2}vocab_size 32000 \(from backbone\.embedding\.weight \[32000, 64\]\)/);
    expect(r.stdout).toMatch(/tokenizer: embedded SentencePiece model/);
    expect(r.stdout).toMatch(/bos 1, eos 2/);
  });

  it('--config with the release JSON gives the same file data', async () => {
    const cfg = join(dir, 'bimamba2_tiny.json');
    writeFileSync(cfg, JSON.stringify(releaseConfigJson(SHAPE)));
    const out = join(dir, 'with-config.bimamba');
    const r = await bimamba(['convert', join(dir, 'ckpt-1000'), out, '--config', cfg, '--tokenizer', join(dir, 'tokenizer.model')]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/inferred|read off/);
    const a = await bimamba(['tokenize', '-m', out, '--decode', '[15043, 3186]']);
    expect(a.stdout).toBe('Hello world\n');
  });

  it('tokenize: every SentencePiece fixture text gets sentencepiece\'s ids and decoded text', async () => {
    const r = await bimamba(['tokenize', '-m', model, '--json'], JSON.stringify(FIXTURE.encode.map((c) => c.text)));
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as { ids: number[]; decoded: string }[];
    expect(got.length).toBe(FIXTURE.encode.length);
    FIXTURE.encode.forEach((c, i) => {
      expect(got[i].ids, JSON.stringify(c.text)).toEqual(c.ids);
      expect(got[i].decoded, JSON.stringify(c.text)).toBe(c.decoded);
    });
  });

  it('tokenize --decode: byte fallback, control and unknown tokens as sentencepiece decodes them', async () => {
    for (const c of FIXTURE.decode.filter((d) => d.ids.length > 1).slice(0, 6)) {
      const r = await bimamba(['tokenize', '-m', model, '--decode', c.ids.join(' ')]);
      expect(r.stdout, JSON.stringify(c.ids)).toBe(c.decoded + '\n');
    }
    const piped = await bimamba(['tokenize', '-m', model], 'Hello world'); // text from stdin
    expect(JSON.parse(piped.stdout)).toEqual([15043, 3186]);
  });

  it('generate starts the prompt with BOS and runs', async () => {
    const r = await bimamba(['generate', '-m', model, '-n', '6', '-t', '0', 'Hello world']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Hello world')).toBe(true);
  });

  it('ppl --protocol bi-mamba equals the library computation on the same file', async () => {
    const raw = ' \n = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 : Unrecorded Chronicles is a tactical role @-@ playing video game .\n'.repeat(7);
    const text = join(dir, 'wiki.test.raw');
    writeFileSync(text, raw);
    const r = await bimamba(['ppl', '-m', model, '--text', text, '--protocol', 'bi-mamba', '--window', '64', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const m = await loadModel(model, { wasm: WASM });
    try {
      const ids = protocolIds(linesAsRows(raw), (t) => m.tokenizer!.encode(t), m.bosTokenId);
      expect(j.tokens).toBe(ids.length);
      expect(ids.length % 64).not.toBe(0); // a short rest, left out
      const lib = await perplexity(m, ids, { window: 64, average: 'full-windows' });
      expect(j.windows).toBe(Math.floor(ids.length / 64));
      expect(j.ppl).toBeCloseTo(lib.ppl, 6);
      expect(j.protocol).toBe('bi-mamba');
    } finally {
      m.dispose();
    }
    const plain = await bimamba(['ppl', '-m', model, '--text', text, '--protocol', 'bi-mamba', '--window', '64']);
    expect(plain.stdout).toMatch(/perplexity [\d.]+ over \d+ predicted tokens in \d+ window\(s\) of 64; the last \d+ tokens, short of a window, are not evaluated/);
  });
});
