// The official Bi-Mamba release as it is distributed: weights-only folders of .bin files (no config.json),
// the release's mamba_config JSON given apart, LLaMA's SentencePiece tokenizer.model beside the weights.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInfo } from '../../src/cli/info.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { readBimambaFileHeader } from '../../src/format/bimamba.js';
import { loadModel } from '../../src/model/model.js';
import { checkpointDir, maxDiff, readExpected, tokenizerPath } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { readConverted, rejection } from './helpers.js';
import { fullConfigJson, releaseConfigJson, releaseTensors, torchFile, writeReleaseFolder, type ReleaseShape } from './release.js';

const LLAMA_MODEL = tokenizerPath('llama2', 'model');
let tmp = '';
beforeAll(async () => { tmp = await mkdtemp(join(tmpdir(), 'bimamba-official-')); });
afterAll(async () => rm(tmp, { recursive: true, force: true }));

const quiet = { onWarning: () => {} };
const all = () => true;
/** The official shapes scaled down: d_model 64 instead of 1536, 2 layers instead of 48, the real vocabulary. */
const DEFAULTS: ReleaseShape = { d_model: 64, n_layer: 2, vocab_size: 32000, d_state: 128, headdim: 64 }; // mamba_ssm's Mamba2 defaults
const OTHER: ReleaseShape = { d_model: 64, n_layer: 3, vocab_size: 32000, d_state: 32, headdim: 32 };

/** Every tensor of two converted files is byte-identical, and the configs agree. */
async function expectSameModel(a: string, b: string): Promise<void> {
  const [x, y] = [await readConverted(a), await readConverted(b)];
  expect(x.header.config).toEqual(y.header.config);
  expect(x.header.tensors.map((t) => t.name)).toEqual(y.header.tensors.map((t) => t.name));
  for (const t of x.header.tensors) expect(Buffer.compare(x.tensor(t.name), y.tensor(t.name)), t.name).toBe(0);
}

async function logitsOf(path: string, ids: number[]): Promise<Float32Array> {
  const model = await loadModel(path, { wasm: WASM, exact: true });
  try {
    return model.logits(ids);
  } finally {
    model.dispose();
  }
}

const IDS = [1, 15043, 3186, 29892, 263, 2217, 7826, 29889, 13, 450, 4996, 17354, 1701, 29916];

describe('a weights-only folder with an odd .bin name converts with no flags', () => {
  it.each([['mamba_ssm default sizes', DEFAULTS], ['other sizes (d_state 32, headdim 32, 3 layers)', OTHER]])('%s: same file and logits as with its config.json', async (_, shape) => {
    const bare = join(tmp, `bare-${shape.d_state}`);
    await writeReleaseFolder(bare, shape, { 'consolidated.00.bin': all });
    await copyFile(LLAMA_MODEL, join(bare, 'tokenizer.model'));
    const withConfig = join(tmp, `with-config-${shape.d_state}`);
    await writeReleaseFolder(withConfig, shape, { 'pytorch_model.bin': all });
    await copyFile(LLAMA_MODEL, join(withConfig, 'tokenizer.model'));
    await writeFile(join(withConfig, 'config.json'), JSON.stringify(fullConfigJson(shape)));

    const info: string[] = [];
    const r = await convertCheckpoint(bare, join(tmp, 'bare.bimamba'), { ...quiet, onInfo: (m) => info.push(m) });
    await convertCheckpoint(withConfig, join(tmp, 'config.bimamba'), quiet);
    expect(r.config).toMatchObject({
      arch: 'mamba2', binarized: true, source: 'bimamba', d_model: shape.d_model, n_layer: shape.n_layer, vocab_size: 32000,
      d_inner: 2 * shape.d_model, d_state: shape.d_state, headdim: shape.headdim, ngroups: 1, d_conv: 4, tie_embeddings: true,
      bos_token_id: 1, eos_token_id: 2,
    });
    // the log says what was inferred and from which tensor
    expect(info.join('\n')).toMatch(/nheads \d+ \(from backbone\.layers\.0\.mixer\.A_log \[\d+\]\)/);
    expect(info.join('\n')).toContain(`d_model ${shape.d_model} (from backbone.embedding.weight [32000, ${shape.d_model}])`);
    expect(info.join('\n')).toMatch(/ngroups 1 \(mamba_ssm's default; the shapes give only ngroups\*d_state = \d+\)/);
    expect(info.join('\n')).toContain('tie_embeddings true (lm_head.weight equals backbone.embedding.weight)');
    expect(info.join('\n')).toMatch(/conv_bias true \(from backbone\.layers\.0\.mixer\.conv1d\.bias \[\d+\]\)/);

    await expectSameModel(join(tmp, 'bare.bimamba'), join(tmp, 'config.bimamba'));
    expect(await logitsOf(join(tmp, 'bare.bimamba'), IDS)).toEqual(await logitsOf(join(tmp, 'config.bimamba'), IDS));

    // bimamba info shows it too
    const { header, fileBytes } = await readBimambaFileHeader(join(tmp, 'bare.bimamba'));
    const text = formatInfo('bare.bimamba', header, fileBytes, false);
    expect(text).toContain('config inferred from the tensor shapes:');
    expect(text).toContain(`  d_state ${shape.d_state} (from backbone.layers.0.mixer.conv1d.weight`);
    expect(text).toContain('tokenizer: embedded SentencePiece model');
  });

  it("the shared bimamba-tiny reference checkpoint, weights alone and renamed, matches transformers' logits", async () => {
    const dir = join(tmp, 'tiny-bare');
    await mkdir(dir, { recursive: true });
    await copyFile(join(checkpointDir('bimamba-tiny'), 'pytorch_model.bin'), join(dir, 'ckpt.bin'));
    const r = await convertCheckpoint(dir, join(tmp, 'tiny.bimamba'), quiet);
    expect(r.config).toMatchObject({ d_state: 32, headdim: 32, nheads: 4, vocab_size: 1008, tie_embeddings: true }); // no config: every embedding row is a token
    const e = readExpected('bimamba-tiny');
    const got = await logitsOf(join(tmp, 'tiny.bimamba'), e.inputIds);
    const cut = new Float32Array(e.inputIds.length * e.V);
    for (let t = 0; t < e.inputIds.length; t++) cut.set(got.subarray(t * 1008, t * 1008 + e.V), t * e.V);
    const { diff, scale } = maxDiff(cut, e.logits);
    expect(diff).toBeLessThanOrEqual(1e-3 * scale);
  });
});

describe('--config takes the release\'s mamba_config JSON', () => {
  it('bimamba2_*.json form (no d_state / headdim: mamba_ssm defaults) gives the inferred model', async () => {
    const dir = join(tmp, 'release-cfg');
    await writeReleaseFolder(dir, DEFAULTS, { 'pytorch_model.bin': all });
    const cfg = join(tmp, 'bimamba2_tiny.json');
    await writeFile(cfg, JSON.stringify(releaseConfigJson(DEFAULTS), null, 4));
    const tok = join(tmp, 'tokenizer.model');
    await copyFile(LLAMA_MODEL, tok);
    const r = await convertCheckpoint(dir, join(tmp, 'cfg.bimamba'), { ...quiet, config: cfg, tokenizer: tok });
    expect(r.inferred).toBeNull();
    expect(r.config).toMatchObject({ d_state: 128, headdim: 64, nheads: 2, vocab_size: 32000, padded_vocab_size: 32000, bos_token_id: 1, eos_token_id: 2 });
    await convertCheckpoint(dir, join(tmp, 'nocfg.bimamba'), { ...quiet, tokenizer: tok });
    await expectSameModel(join(tmp, 'cfg.bimamba'), join(tmp, 'nocfg.bimamba'));
    const { header } = await readBimambaFileHeader(join(tmp, 'cfg.bimamba'));
    expect(JSON.parse(header.metadata.source!).config).toBe('bimamba2_tiny.json');
  });

  it('a release config that does not fit the weights says which tensor disagrees', async () => {
    const dir = join(tmp, 'release-cfg-bad');
    await writeReleaseFolder(dir, OTHER, { 'pytorch_model.bin': all });
    const cfg = join(tmp, 'bimamba2_wrong.json');
    await writeFile(cfg, JSON.stringify(releaseConfigJson(OTHER)));
    const e = await rejection(convertCheckpoint(dir, join(tmp, 'x.bimamba'), { ...quiet, config: cfg }));
    expect(e.code).toBe('BAD_CHECKPOINT');
    expect(e.message).toMatch(/has shape .* but the config implies/);
    expect((await rejection(convertCheckpoint(dir, join(tmp, 'x.bimamba'), { ...quiet, config: join(tmp, 'nope.json') }))).message).toMatch(/cannot read the config/);
  });
});

describe('several .bin files are one state dict', () => {
  const layer0 = (n: string) => n.startsWith('backbone.layers.0.');
  it('two .bin files (no index) give the same model as one', async () => {
    const two = join(tmp, 'two-bins');
    await writeReleaseFolder(two, OTHER, { 'part-a.bin': layer0, 'part-b.bin': (n) => !layer0(n) });
    const one = join(tmp, 'one-bin');
    await writeReleaseFolder(one, OTHER, { 'model.bin': all });
    const r = await convertCheckpoint(two, join(tmp, 'two.bimamba'), quiet);
    expect(r.config.n_layer).toBe(3);
    await convertCheckpoint(one, join(tmp, 'one.bimamba'), quiet);
    await expectSameModel(join(tmp, 'two.bimamba'), join(tmp, 'one.bimamba'));
  });

  it('a tensor in two files is an error naming both files', async () => {
    const dir = join(tmp, 'dup-bins');
    await writeReleaseFolder(dir, OTHER, { 'a.bin': all, 'b.bin': layer0 });
    const e = await rejection(convertCheckpoint(dir, join(tmp, 'x.bimamba'), quiet));
    expect(e.code).toBe('BAD_CHECKPOINT');
    expect(e.message).toMatch(/tensor "backbone\.layers\.0\.[^"]+" is in two weight files: a\.bin and b\.bin/);
  });

  it("HF Trainer's training_args.bin is not read as weights", async () => {
    const dir = join(tmp, 'trainer');
    await writeReleaseFolder(dir, OTHER, { 'pytorch_model.bin': all });
    await writeFile(join(dir, 'training_args.bin'), new Uint8Array([0x80, 0x02, 0x63])); // a pickle of something else
    expect((await convertCheckpoint(dir, join(tmp, 'x.bimamba'), quiet)).config.n_layer).toBe(3);
  });
});

describe('when shapes cannot tell, the error says what is needed', () => {
  const without = async (name: string, drop: (n: string) => boolean, edit?: (t: [string, number[], Float32Array][]) => void) => {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const tensors = releaseTensors(OTHER).filter(([n]) => !drop(n));
    edit?.(tensors);
    await writeFile(join(dir, 'w.bin'), torchFile(tensors, true));
    return rejection(convertCheckpoint(dir, join(tmp, 'x.bimamba'), quiet));
  };

  it.each([
    ['no A_log', (n: string) => n.endsWith('A_log'), undefined, /cannot tell the architecture .*--config FILE/],
    ['a missing layer', (n: string) => n.startsWith('backbone.layers.1.'), undefined, /layer 1 is missing but layer 2 exists/],
    ['no embedding', (n: string) => n.includes('embedding'), undefined, /cannot tell the vocabulary and d_model/],
    ['in_proj rows that fit no Mamba-2 layout', () => false, (t: [string, number[], Float32Array][]) => {
      const i = t.findIndex(([n]) => n === 'backbone.layers.0.mixer.in_proj.weight');
      t[i] = [t[i][0], [t[i][1][0] + 8, t[i][1][1]], new Float32Array((t[i][1][0] + 8) * t[i][1][1])];
    }, /in_proj layout.*rows/],
  ])('%s', async (_, drop, edit, message) => {
    const e = await without(`amb-${String(message).length}`, drop, edit);
    expect(e.code).toBe('BAD_CHECKPOINT');
    expect(e.message).toMatch(/no config\.json/);
    expect(e.message).toMatch(message);
  });
});

describe('the tokenizer beside the weights', () => {
  it('tokenizer.model is embedded and loads as the SentencePiece tokenizer', async () => {
    const dir = join(tmp, 'with-spm');
    await writeReleaseFolder(dir, OTHER, { 'pytorch_model.bin': all });
    await copyFile(LLAMA_MODEL, join(dir, 'tokenizer.model'));
    await convertCheckpoint(dir, join(tmp, 'spm.bimamba'), quiet);
    const model = await loadModel(join(tmp, 'spm.bimamba'), { wasm: WASM });
    try {
      expect(model.tokenizer!.encode('  leading and trailing spaces  ')).toEqual([259, 8236, 322, 25053, 8162, 259]);
      expect(model.tokenizer!.addsBos).toBe(true);
      expect(model.tokenizer!.bosTokenId).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('a broken tokenizer.model is refused, naming the file', async () => {
    const dir = join(tmp, 'bad-spm');
    await writeReleaseFolder(dir, OTHER, { 'pytorch_model.bin': all });
    const bytes = new Uint8Array(await readFile(LLAMA_MODEL)).slice(0, 1000);
    await writeFile(join(dir, 'tokenizer.model'), bytes);
    const e = await rejection(convertCheckpoint(dir, join(tmp, 'x.bimamba'), quiet));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/tokenizer\.model: .*runs past the end/);
  });
});
