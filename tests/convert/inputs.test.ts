// The converter's inputs: layouts, shards, dtypes, configs, tokenizers, and every kind of bad input.
import { mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { bf16ToF32, f16ToF32, f32ToF16 } from '../../src/format/dtype.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { PickleWriter, torchZip } from '../format/torch-bytes.js';
import { byteTokenizerJson, checkpointDir, tokenizerPath } from '../util/fixtures.js';
import { copyFixture, editConfig, readAllSafetensors, readConverted, rejection, sourceTensors, writeSafetensors, type RawTensor } from './helpers.js';

let tmp = '';
let n = 0;
/** A fresh writable copy of a fixture. */
const copy = (name: string) => copyFixture(name, join(tmp, `${name}-${n++}`));
const outPath = () => join(tmp, `out-${n++}.bimamba`);

beforeAll(async () => { tmp = await mkdtemp(join(tmpdir(), 'bimamba-inputs-')); });
afterAll(async () => rm(tmp, { recursive: true, force: true }));

/** f32 bytes -> bf16 bytes (truncating) or f16 bytes (nearest). */
function narrow(t: RawTensor, dtype: 'BF16' | 'F16'): RawTensor {
  const f = new Float32Array(t.bytes.slice().buffer);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = dtype === 'BF16' ? u[i] >>> 16 : f32ToF16(f[i]);
  return { ...t, dtype, bytes: new Uint8Array(out.buffer) };
}

describe('input layouts', () => {
  it('reads sharded safetensors with an index, in bf16 and f16, as the values those types hold', async () => {
    const dir = await copy('mamba2-tiny-hf');
    const all = await readAllSafetensors(join(dir, 'model.safetensors'));
    await unlink(join(dir, 'model.safetensors'));
    const half = Math.ceil(all.length / 2);
    const shards = [all.slice(0, half).map((t) => narrow(t, 'BF16')), all.slice(half).map((t) => narrow(t, 'F16'))];
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(join(dir, file), shard);
      for (const t of shard) weightMap[t.name] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const out = outPath();
    await convertCheckpoint(dir, out);
    const conv = await readConverted(out);
    const check = (source: RawTensor, name: string) => {
      const want = new Uint16Array(source.bytes.slice().buffer);
      const got = conv.f32(name);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBe(source.dtype === 'BF16' ? bf16ToF32(want[i]) : f16ToF32(want[i]));
    };
    check(shards[0].find((t) => t.name === 'backbone.embeddings.weight')!, 'embedding');
    check(shards[1].find((t) => t.name === 'backbone.norm_f.weight')!, 'norm_f.weight');
    check(shards[1].find((t) => t.name === 'backbone.layers.1.mixer.in_proj.weight')!, 'layers.1.in_proj.weight');
  });

  it('reads a config with a bare Infinity, and {"__float__": "Infinity"}, and finite limits', async () => {
    const dir = await copy('mamba2-tiny-hf');
    const text = await readFile(join(dir, 'config.json'), 'utf8');
    await writeFile(join(dir, 'config.json'), text.replace(/\{\s*"__float__":\s*"Infinity"\s*\}/, 'Infinity'));
    expect(await readFile(join(dir, 'config.json'), 'utf8')).toMatch(/\[\s*0\.0,\s*Infinity\s*\]/);
    expect((await convertCheckpoint(dir, outPath())).config.time_step_limit).toEqual([0, null]);
    const finite = await copy('mamba2-tiny-hf');
    await editConfig(finite, (c) => { c.time_step_limit = [0.001, 0.1]; });
    expect((await convertCheckpoint(finite, outPath())).config.time_step_limit).toEqual([0.001, 0.1]);
  });

  it('embeds the tokenizer beside the weights, or the one given, and takes special ids from it', async () => {
    const dir = await copy('bimamba-tiny');
    const llama = await readFile(tokenizerPath('llama2'), 'utf8');
    const noTokenizer = await convertCheckpoint(dir, outPath());
    expect(noTokenizer.warnings.join('\n')).toMatch(/no tokenizer/);
    expect(noTokenizer.config).toMatchObject({ bos_token_id: null, eos_token_id: null });

    await writeFile(join(dir, 'tokenizer.json'), llama);
    const out = outPath();
    const beside = await convertCheckpoint(dir, out);
    expect((await readConverted(out)).header.tokenizerJson).toBe(llama);
    // mamba_ssm configs give no special ids; LLaMA's tokenizer has <s> = 1, </s> = 2
    expect(beside.config).toMatchObject({ bos_token_id: 1, eos_token_id: 2 });
    expect(beside.warnings.join('\n')).toMatch(/tokenizer uses 32000 token ids but the model's vocabulary has 1000/);

    const neox = await readFile(tokenizerPath('gpt-neox-20b'), 'utf8');
    const out2 = outPath();
    await convertCheckpoint(dir, out2, { tokenizer: tokenizerPath('gpt-neox-20b') });
    expect((await readConverted(out2)).header.tokenizerJson).toBe(neox);
  });

  it('takes special ids by the names the runtime looks for (<bos>, <eos>: Gemma style)', async () => {
    const dir = await copy('bimamba-tiny');
    const json = JSON.parse(byteTokenizerJson());
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    json.added_tokens = [special(256, '<bos>'), special(257, '<eos>')];
    json.model.vocab = { ...json.model.vocab, '<bos>': 256, '<eos>': 257 };
    delete json.model.vocab['<|endoftext|>'];
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const { config } = await convertCheckpoint(dir, outPath());
    expect(config).toMatchObject({ bos_token_id: 256, eos_token_id: 257 }); // null before: the converter's list had neither name
    const tokenizer = loadTokenizer(JSON.stringify(json));
    expect([tokenizer.bosTokenId, tokenizer.eosTokenId]).toEqual([256, 257]);
  });

  it('warns about tensors the model has no use for, and converts the rest', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const all = await readAllSafetensors(join(dir, 'model.safetensors'));
    all.push({ name: 'backbone.layers.0.mixer.extra.weight', dtype: 'F32', shape: [2], bytes: new Uint8Array(8) });
    await writeSafetensors(join(dir, 'model.safetensors'), all);
    const r = await convertCheckpoint(dir, outPath());
    expect(r.warnings.join('\n')).toMatch(/ignoring tensor "backbone\.layers\.0\.mixer\.extra\.weight"/);
  });
});

describe('bad input: a clear error each, and no output file', () => {
  /** Convert, expect `code` and a message matching `message`, and check nothing was left behind. */
  async function refused(dir: string, code: string, message: RegExp, opts = {}) {
    const out = outPath();
    const e = await rejection(convertCheckpoint(dir, out, opts));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    const left = (await readdir(tmp)).filter((f) => f.startsWith(out.split('/').pop()!));
    expect(left).toEqual([]);
  }

  it('a directory that does not exist', async () => {
    await refused(join(tmp, 'nowhere'), 'IO', /cannot read the checkpoint directory .*nowhere: no such file/);
  });

  it('a missing config.json: the config is read off the tensor shapes (Mamba-1 too), the same model as with it', async () => {
    for (const name of ['mamba1-tiny-hf', 'mamba2-tiny-hf']) {
      const dir = await copy(name);
      const withConfig = await convertCheckpoint(dir, outPath(), { onWarning: () => {} });
      await unlink(join(dir, 'config.json'));
      const inferred = await convertCheckpoint(dir, outPath(), { onWarning: () => {} });
      expect(inferred.inferred!.length).toBeGreaterThan(5);
      const { bos_token_id: _b, eos_token_id: _e, pad_token_id: _p, norm_eps: _n, mixer_norm_eps: _m, time_step_limit: _t, ...sizes } = withConfig.config;
      expect(inferred.config).toMatchObject(sizes);
    }
  });

  it('missing weights', async () => {
    const dir = await copy('mamba1-tiny-ssm');
    await unlink(join(dir, 'pytorch_model.bin'));
    await refused(dir, 'BAD_CHECKPOINT', /no weights found/);
  });

  it('a shard named by the index that is missing', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'backbone.norm_f.weight': 'model-00002-of-00002.safetensors' } }));
    await refused(dir, 'BAD_CHECKPOINT', /cannot open .*model-00002-of-00002\.safetensors/);
  });

  it('a tensor that is missing', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const all = await readAllSafetensors(join(dir, 'model.safetensors'));
    await writeSafetensors(join(dir, 'model.safetensors'), all.filter((t) => t.name !== 'backbone.layers.1.mixer.D'));
    await refused(dir, 'BAD_CHECKPOINT', /tensor "backbone\.layers\.1\.mixer\.D" is missing/);
  });

  it('a config that disagrees with the tensor shapes', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await editConfig(dir, (c) => { c.state_size = 8; });
    await refused(dir, 'BAD_CHECKPOINT', /tensor "backbone\.layers\.0\.mixer\.x_proj\.weight" has shape \[36,128\], but the config implies \[20,128\]/);
  });

  it('a vocabulary padding that disagrees with the embedding', async () => {
    const dir = await copy('bimamba-tiny');
    await editConfig(dir, (c) => { c.pad_vocab_size_multiple = 64; });
    await refused(dir, 'BAD_CHECKPOINT', /"backbone\.embedding\.weight" has shape \[1008,64\], but config\.json implies \[1024, 64\] \(vocab_size 1000 padded to a multiple of 64\)/);
  });

  it('a Mamba-2 config whose head size does not fit', async () => {
    const dir = await copy('mamba2-tiny-hf');
    await editConfig(dir, (c) => { c.num_heads = 3; });
    await refused(dir, 'BAD_CHECKPOINT', /num_heads 3 x head_dim 32 must equal/);
  });

  it('unknown architectures', async () => {
    const hf = await copy('mamba2-tiny-hf');
    await editConfig(hf, (c) => { c.model_type = 'jamba'; });
    await refused(hf, 'UNSUPPORTED', /unknown architecture: model_type "jamba"/);
    const ssm = await copy('bimamba-tiny');
    await editConfig(ssm, (c) => { c.ssm_cfg.layer = 'Mamba3'; });
    await refused(ssm, 'UNSUPPORTED', /unknown architecture: ssm_cfg\.layer is "Mamba3"/);
    const hybrid = await copy('bimamba-tiny');
    await editConfig(hybrid, (c) => { c.attn_layer_idx = [1]; });
    await refused(hybrid, 'UNSUPPORTED', /attention layers/);
    const neither = await copy('bimamba-tiny');
    await writeFile(join(neither, 'config.json'), '{"hidden": 3}');
    await refused(neither, 'BAD_CHECKPOINT', /neither an HF transformers config/);
  });

  it('a config.json that is not JSON', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await writeFile(join(dir, 'config.json'), '{"hidden_size": 64,');
    await refused(dir, 'BAD_CHECKPOINT', /config\.json: not valid JSON/);
  });

  it('a truncated safetensors file', async () => {
    const dir = await copy('mamba2-tiny-hf');
    await truncate(join(dir, 'model.safetensors'), 400000);
    await refused(dir, 'BAD_FORMAT', /model\.safetensors: tensor ".*" ends at data offset \d+, past the end of the file.*truncated/);
  });

  it('a truncated pytorch_model.bin', async () => {
    const dir = await copy('bimamba-tiny');
    await truncate(join(dir, 'pytorch_model.bin'), 300000);
    await refused(dir, 'BAD_FORMAT', /pytorch_model\.bin: (not a zip archive, or truncated|.*truncated)/);
  });

  it('malformed safetensors headers: oversized, overlapping, out of range', async () => {
    const header = (h: object, data: number, length?: bigint) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + data);
      new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    const w = (begin: number, end: number) => ({ dtype: 'F32', shape: [(end - begin) / 4], data_offsets: [begin, end] });
    const cases: [Uint8Array, RegExp][] = [
      [header({ a: w(0, 8) }, 8, 200n * 1024n * 1024n), /header length 209715200 is over the limit/],
      [header({ a: w(0, 8), b: w(4, 12) }, 12), /tensors "a" and "b" overlap/],
      [header({ a: w(0, 8), b: w(8, 4000) }, 16), /tensor "b" ends at data offset 4000, past the end of the file/],
    ];
    for (const [bytes, message] of cases) {
      const dir = await copy('mamba1-tiny-hf');
      await writeFile(join(dir, 'model.safetensors'), bytes);
      await refused(dir, 'BAD_FORMAT', message);
    }
  });

  it('a pytorch_model.bin whose pickle names os.system: refused, not run', async () => {
    const dir = await copy('bimamba-tiny');
    const marker = join(tmp, 'pwned');
    const pickle = new PickleWriter().proto().global('os', 'system').mark().str(`touch ${marker}`).tuple().reduce().stop().bytes();
    await writeFile(join(dir, 'pytorch_model.bin'), torchZip(pickle, {}));
    await refused(dir, 'UNSAFE_PICKLE', /pytorch_model\.bin: the pickle names the global "os\.system"/);
    await expect(readFile(marker)).rejects.toThrow(); // nothing ran
  });

  it('a tokenizer that is not a tokenizer.json', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await writeFile(join(dir, 'tokenizer.json'), '{"vocab": {}}');
    await refused(dir, 'BAD_FORMAT', /tokenizer\.json: not a tokenizer\.json/);
    await refused(await copy('mamba1-tiny-hf'), 'IO', /cannot read the tokenizer .*none\.json: no such file/, { tokenizer: join(tmp, 'none.json') });
  });

  it('bad option values', async () => {
    await refused(checkpointDir('mamba1-tiny-hf'), 'BAD_ARGUMENT', /--head must be f32, f16, int8 or q4, got "int4"/, { head: 'int4' });
    await refused(checkpointDir('mamba1-tiny-hf'), 'BAD_ARGUMENT', /--dtype must be f32 or f16/, { dtype: 'bf16' });
  });

  it('a source tensor of a non-float dtype', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const all = await readAllSafetensors(join(dir, 'model.safetensors'));
    const d = all.find((t) => t.name === 'backbone.layers.0.mixer.D')!;
    d.dtype = 'I32';
    await writeSafetensors(join(dir, 'model.safetensors'), all);
    await refused(dir, 'BAD_CHECKPOINT', /"backbone\.layers\.0\.mixer\.D" has dtype I32; expected a floating-point type/);
  });
});

describe('torch pickle sources', () => {
  it('bimamba-tiny: lm_head shares the embedding storage; shapes come through', async () => {
    const src = await sourceTensors(checkpointDir('bimamba-tiny'));
    expect(src.get('lm_head.weight')!.values).toEqual(src.get('backbone.embedding.weight')!.values);
    expect(src.get('backbone.layers.0.mixer.in_proj.wscale')!.shape).toEqual([1, 64]);
    expect(src.get('backbone.layers.0.mixer.conv1d.weight')!.shape).toEqual([192, 1, 4]);
  });
});
