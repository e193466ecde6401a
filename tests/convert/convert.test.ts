import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerConvert } from '../../src/cli/convert.js';
import { formatInfo, registerInfo } from '../../src/cli/info.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { checkpointName } from '../../src/convert/names.js';
import { readBimambaFileHeader } from '../../src/format/bimamba.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/format/dtype.js';
import { getQ4 } from '../../src/format/q4.js';
import { dequantize, packedShape, signAt } from '../../src/format/onebit.js';
import { checkpointDir, FIXTURE_NAMES, tokenizerPath } from '../util/fixtures.js';
import { writeSyntheticBiMamba } from '../util/synthetic-checkpoint.js';
import { readConverted, sourceTensors } from './helpers.js';

let tmp = '';
beforeAll(async () => { tmp = await mkdtemp(join(tmpdir(), 'bimamba-convert-')); });
afterAll(async () => rm(tmp, { recursive: true, force: true }));

const layoutOf = (name: string) => (name.endsWith('-hf') ? 'hf' : 'mamba_ssm');

/** The [N, K] of a projection, from its source latent / full-precision weight. */
const projShape = (src: Map<string, { shape: number[] }>, layout: 'hf' | 'mamba_ssm', prefix: string) => src.get(checkpointName(`${prefix}.weight`, layout))!.shape;

describe('every fixture converts, and info shows the shapes of the source', () => {
  for (const name of FIXTURE_NAMES) {
    it(name, async () => {
      const out = join(tmp, `${name}.bimamba`);
      const result = await convertCheckpoint(checkpointDir(name), out);
      const { header, fileBytes } = await readBimambaFileHeader(out);
      expect(fileBytes).toBe(result.fileBytes);
      const text = formatInfo(out, header, fileBytes);
      const src = await sourceTensors(checkpointDir(name));
      const layout = layoutOf(name);

      for (const t of header.tensors) {
        let want: number[];
        if (t.name.endsWith('.bits')) {
          const [N, K] = projShape(src, layout, t.name.slice(0, -5));
          const { Np, Kp } = packedShape(N, K);
          want = [Np / 16, Kp / 8, 16];
        } else if (t.name.endsWith('.alpha') || t.name.endsWith('.beta')) {
          want = [projShape(src, layout, t.name.replace(/\.(alpha|beta)$/, ''))[1]];
        } else {
          want = src.get(checkpointName(t.name, layout))!.shape.filter((d, i, s) => !(t.name.endsWith('conv1d.weight') && i === 1 && s.length === 3));
        }
        expect(t.shape, t.name).toEqual(want);
        expect(text).toMatch(new RegExp(`\\n  ${t.name.replace(/\./g, '\\.')} +${t.dtype} +\\[${want.join(', ')}\\]`));
      }
      // every source tensor is in the file, except a tied lm_head and Bi-Mamba's wscale/wbias (now alpha/beta)
      const names = new Set(header.tensors.map((t) => t.name));
      for (const key of src.keys()) {
        if (key === 'lm_head.weight' || /w(scale|bias)$/.test(key)) continue;
        const n = key.replace(/^backbone\./, '').replace('.mixer.norm.', '.mixer_norm.').replace('.mixer.', '.').replace(/^embeddings?\.weight$/, 'embedding');
        expect(names.has(n) || names.has(n.replace(/\.weight$/, '.bits')), key).toBe(true);
      }
      expect(text).toContain(`architecture: ${header.config.arch}`);
    });
  }

  it('normalises each config as its source defines it', async () => {
    const cfg = async (name: string) => (await readBimambaFileHeader(join(tmp, `${name}.bimamba`))).header.config;
    expect(await cfg('bimamba-tiny')).toMatchObject({
      arch: 'mamba2', binarized: true, source: 'bimamba', d_model: 64, n_layer: 2, vocab_size: 1000, padded_vocab_size: 1008,
      d_inner: 128, d_state: 32, d_conv: 4, headdim: 32, nheads: 4, ngroups: 1, norm_before_gate: false, time_step_limit: [0, null], tie_embeddings: true,
    });
    expect(await cfg('mamba1-tiny-ssm')).toMatchObject({ arch: 'mamba1', binarized: false, source: 'mamba_ssm', d_state: 16, dt_rank: 4, padded_vocab_size: 1000, conv_bias: true, in_proj_bias: false });
    expect(await cfg('mamba1-tiny-hf')).toMatchObject({ arch: 'mamba1', source: 'hf', d_inner: 128, dt_rank: 4, norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 0, pad_token_id: 0 });
    expect(await cfg('mamba2-tiny-hf')).toMatchObject({ arch: 'mamba2', source: 'hf', nheads: 4, headdim: 32, d_state: 32, mixer_norm_eps: 1e-5, time_step_limit: [0, null], eos_token_id: 2, pad_token_id: 1 });
  });
});

describe('Bi-Mamba binarized layers', () => {
  it('bimamba-tiny: dequantized W_hat equals wscale*sign(W)+wbias of the source, bits exact', async () => {
    const src = await sourceTensors(checkpointDir('bimamba-tiny'));
    const out = await readConverted(join(tmp, 'bimamba-tiny.bimamba'));
    // The fixture has no exact zeros in its latent weights, so torch.sign and the +1 rule agree everywhere.
    let zeros = 0;
    let layers = 0;
    for (const [key, { shape, values: W }] of src) {
      const m = /^backbone\.layers\.(\d+)\.mixer\.(in_proj|out_proj)\.weight$/.exec(key);
      if (!m) continue;
      layers++;
      const [N, K] = shape;
      const prefix = `layers.${m[1]}.${m[2]}`;
      const wscale = src.get(key.replace('weight', 'wscale'))!.values;
      const wbias = src.get(key.replace('weight', 'wbias'))!.values;
      const bits = out.tensor(`${prefix}.bits`), alpha = out.f32(`${prefix}.alpha`), beta = out.f32(`${prefix}.beta`);
      expect(alpha).toEqual(wscale);
      expect(beta).toEqual(wbias);
      const What = dequantize(bits, alpha, beta, N, K);
      let wrong = 0;
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const w = W[n * K + k];
          if (w === 0) zeros++;
          const sign = Math.sign(w);
          if (signAt(bits, K, n, k) !== (w >= 0 ? 1 : -1)) wrong++;
          if (What[n * K + k] !== Math.fround(wscale[k] * sign + wbias[k])) wrong++;
        }
      }
      expect(wrong, prefix).toBe(0);
      // padding rows and columns are zero bits
      const { Np, Kp } = packedShape(N, K);
      for (let n = 0; n < Np; n++) for (let k = 0; k < Kp; k++) if (n >= N || k >= K) expect(signAt(bits, Kp, n, k)).toBe(-1);
    }
    expect(layers).toBe(4);
    expect(zeros).toBe(0);
  });

  it('packs a latent weight of exactly 0 as +1 (torch.sign would give 0)', async () => {
    const dir = join(tmp, 'zeros');
    await writeSyntheticBiMamba(dir, { d_model: 40, n_layer: 1, vocab_size: 37, d_state: 8, headdim: 16 }, { seed: 5, zeros: 0.2 });
    const out = join(tmp, 'zeros.bimamba');
    await convertCheckpoint(dir, out);
    const src = await sourceTensors(dir);
    const conv = await readConverted(out);
    const { shape: [N, K], values: W } = src.get('backbone.layers.0.mixer.in_proj.weight')!;
    const bits = conv.tensor('layers.0.in_proj.bits');
    let zeros = 0;
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        if (W[n * K + k] === 0) zeros++;
        expect(signAt(bits, K, n, k)).toBe(W[n * K + k] >= 0 ? 1 : -1);
      }
    }
    expect(zeros).toBeGreaterThan(0.1 * N * K);
    expect(conv.header.config).toMatchObject({ d_model: 40, padded_vocab_size: 48, nheads: 5, d_state: 8 });
  });
});

describe('PTB binarization', () => {
  for (const name of ['mamba2-tiny-hf', 'mamba1-tiny-ssm']) {
    it(`${name}: bits = sign(W - mu), alpha = mean|W - mu|, beta = mu, per column`, async () => {
      const out = join(tmp, `${name}-ptb.bimamba`);
      await convertCheckpoint(checkpointDir(name), out, { binarize: 'ptb' });
      const conv = await readConverted(out);
      expect(conv.header.config.binarized).toBe(true);
      const src = await sourceTensors(checkpointDir(name));
      for (const [key, { shape: [N, K], values: W }] of src) {
        const m = /^backbone\.layers\.(\d+)\.mixer\.(in_proj|out_proj)\.weight$/.exec(key);
        if (!m) continue;
        const prefix = `layers.${m[1]}.${m[2]}`;
        const bits = conv.tensor(`${prefix}.bits`), alpha = conv.f32(`${prefix}.alpha`), beta = conv.f32(`${prefix}.beta`);
        for (let k = 0; k < K; k++) {
          // plain reference, column by column
          let mu = 0;
          for (let n = 0; n < N; n++) mu += W[n * K + k];
          mu /= N;
          let a = 0;
          for (let n = 0; n < N; n++) a += Math.abs(W[n * K + k] - mu);
          a /= N;
          expect(beta[k]).toBeCloseTo(mu, 6);
          expect(alpha[k]).toBeCloseTo(a, 6);
          for (let n = 0; n < N; n++) expect(signAt(bits, K, n, k)).toBe(W[n * K + k] - mu >= 0 ? 1 : -1);
        }
      }
    });
  }

  it('refuses --binarize ptb on a Bi-Mamba checkpoint, which is binarized already', async () => {
    await expect(convertCheckpoint(checkpointDir('bimamba-tiny'), join(tmp, 'x.bimamba'), { binarize: 'ptb' })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('--dtype and --head', () => {
  it('f16 weights are the nearest halves; norms, biases, A_log, D stay f32; int8 head is within half a step per row', async () => {
    const name = 'mamba1-tiny-hf';
    const out = join(tmp, 'm1-f16-int8.bimamba');
    await convertCheckpoint(checkpointDir(name), out, { dtype: 'f16', head: 'int8' });
    const conv = await readConverted(out);
    const src = await sourceTensors(checkpointDir(name));
    const dtypes = Object.fromEntries(conv.header.tensors.map((t) => [t.name, t.dtype]));
    expect(dtypes).toMatchObject({
      embedding: 'I8', 'embedding.scale': 'F32', 'layers.0.x_proj.weight': 'F16', 'layers.0.dt_proj.weight': 'F16', 'layers.0.in_proj.weight': 'F16',
      'layers.0.out_proj.weight': 'F16', 'layers.0.conv1d.weight': 'F32', 'layers.0.A_log': 'F32', 'layers.0.D': 'F32', 'layers.0.dt_proj.bias': 'F32', 'norm_f.weight': 'F32',
    });
    const xw = src.get('backbone.layers.1.mixer.x_proj.weight')!.values;
    const xh = new Uint16Array(conv.tensor('layers.1.x_proj.weight').buffer);
    for (let i = 0; i < xw.length; i++) expect(xh[i]).toBe(f32ToF16(xw[i]));

    const { shape: [rows, cols], values: E } = src.get('backbone.embeddings.weight')!;
    const q = new Int8Array(conv.tensor('embedding').buffer);
    const scale = conv.f32('embedding.scale');
    for (let r = 0; r < rows; r++) {
      let absmax = 0;
      for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(E[r * cols + c]));
      expect(scale[r]).toBeCloseTo(absmax / 127, 7);
      for (let c = 0; c < cols; c++) expect(Math.abs(q[r * cols + c] * scale[r] - E[r * cols + c])).toBeLessThanOrEqual(scale[r] / 2 + 1e-7);
    }
  });

  it('f16 head', async () => {
    const out = join(tmp, 'b-f16.bimamba');
    await convertCheckpoint(checkpointDir('bimamba-tiny'), out, { head: 'f16' });
    const conv = await readConverted(out);
    const E = (await sourceTensors(checkpointDir('bimamba-tiny'))).get('backbone.embedding.weight')!.values;
    const h = new Uint16Array(conv.tensor('embedding').buffer);
    expect(h.length).toBe(1008 * 64);
    for (let i = 0; i < E.length; i += 7) expect(f16ToF32(h[i])).toBe(f16ToF32(f32ToF16(E[i])));
  });
});

describe('--head q4', () => {
  it('d_model 40 (a short last group): 4-bit groups no worse than Q4_0 rounding, zero padding, bf16 scales, format version 2', async () => {
    const dir = join(tmp, 'q4-src');
    await writeSyntheticBiMamba(dir, { d_model: 40, n_layer: 1, vocab_size: 37, d_state: 8, headdim: 16 }, { seed: 9 });
    const out = join(tmp, 'q4.bimamba');
    await convertCheckpoint(dir, out, { head: 'q4' });
    const conv = await readConverted(out);
    const { shape: [rows, cols], values: E } = (await sourceTensors(dir)).get('backbone.embedding.weight')!;
    expect(cols).toBe(40);
    const t = (name: string) => conv.header.tensors.find((x) => x.name === name)!;
    expect([t('embedding').dtype, t('embedding').shape]).toEqual(['U8', [rows, 2, 16]]);
    expect([t('embedding.scale').dtype, t('embedding.scale').shape]).toEqual(['BF16', [rows, 2]]);
    expect(conv.header.metadata.format_version).toBe('2');
    const { header, fileBytes } = await readBimambaFileHeader(out);
    expect(formatInfo(out, header, fileBytes)).toMatch(/: \.bimamba v2,[\s\S]*head [\d.]+ KiB \(q4: 4-bit, a bf16 scale per 32 columns\)[\s\S]*embedding\.scale +BF16 +\[48, 2\]/);
    const packed = conv.tensor('embedding');
    const scale = new Uint16Array(conv.tensor('embedding.scale').buffer);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < 2; g++) {
        const k0 = 32 * g, k1 = Math.min(cols, k0 + 32);
        const d = bf16ToF32(scale[2 * r + g]);
        // Q4_0's rounding of the same group: d0 = m / -8, m the value of largest magnitude
        let m = 0;
        for (let k = k0; k < k1; k++) if (Math.abs(E[r * cols + k]) > Math.abs(m)) m = E[r * cols + k];
        const d0 = bf16ToF32(f32ToBf16(m / -8));
        let error = 0, q40 = 0;
        for (let k = k0; k < k1; k++) {
          const e = E[r * cols + k];
          error += (getQ4(packed, 32 * r, k) * d - e) ** 2;
          q40 += (Math.max(-8, Math.min(7, Math.round(e / d0))) * d0 - e) ** 2;
        }
        expect(error).toBeLessThanOrEqual(q40 * (1 + 1e-6));
        expect(error).toBeLessThanOrEqual(((k1 - k0) * (Math.abs(m) / 8) ** 2) / 4); // every value within half of Q4_0's step, on average
      }
      for (let k = cols; k < 64; k++) expect(getQ4(packed, 32 * r, k)).toBe(0);
    }
  });
});

describe('command line', () => {
  it('convert then info, through commander', async () => {
    const out = join(tmp, 'cli.bimamba');
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => { printed.push(String(s)); return true; });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const program = new Command().exitOverride();
      registerConvert(program);
      registerInfo(program);
      await program.parseAsync(['convert', checkpointDir('mamba2-tiny-hf'), out, '--head', 'f16', '--tokenizer', tokenizerPath('gpt-neox-20b')], { from: 'user' });
      await program.parseAsync(['info', out], { from: 'user' });
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    const text = printed.join('');
    expect(text).toMatch(/mamba2, d_model 64, 2 layers, vocab 1000/);
    expect(text).toMatch(/\n {2}embedding +F16 +\[1000, 64\]/);
    expect(text).toMatch(/\n {2}layers\.1\.in_proj\.weight +F32 +\[324, 64\]/);
    expect(text).toMatch(/tokenizer: embedded/);
    expect(text).toMatch(/equivalent fp16 checkpoint/);
    expect((await readFile(out)).length).toBeGreaterThan(0);
  });
});
