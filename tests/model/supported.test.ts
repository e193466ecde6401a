// What the runtime can run is decided once, from the config, before anything is read or written; and the
// special token ids a checkpoint's config gives are the ones the model uses.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import type { ModelConfig } from '../../src/format/config.js';
import { layoutSafetensors } from '../../src/format/safetensors.js';
import { modelTensorSpecs } from '../../src/format/tensors.js';
import { loadModel } from '../../src/model/model.js';
import { copyFixture, editConfig, rejection } from '../convert/helpers.js';
import { byteTokenizerJson, convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

/** A stream of `head` that would then deliver `dataBytes` more, counting what was pulled. */
function streamOf(head: Uint8Array, dataBytes: number) {
  let pos = 0;
  const total = head.length + dataBytes;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pos >= total) return c.close();
      const n = Math.min(4096, total - pos);
      const chunk = new Uint8Array(n);
      if (pos < head.length) chunk.set(head.subarray(pos, pos + n));
      c.enqueue(chunk);
      pos += n;
    },
  });
  return { stream, pulled: () => pos };
}

describe('checkSupported', () => {
  it('the loader refuses a Mamba-2 with norm_before_gate before reading a weight', async () => {
    const base = (await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM }));
    const config: ModelConfig = { ...base.config, norm_before_gate: true };
    base.dispose();
    const plans = modelTensorSpecs(config).map((s) => ({ name: s.name, dtype: s.dtypes[0], shape: s.shape }));
    const layout = layoutSafetensors(plans, { format: 'bimamba', format_version: '1', config: JSON.stringify(config) }, 64);
    const dataBytes = plans.reduce((n, p) => n + 64 + p.shape.reduce((a, b) => a * b, 1) * 4, 0);
    const { stream, pulled } = streamOf(layout.head, dataBytes);
    const e = await rejection(loadModel(stream, { wasm: WASM }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/norm_before_gate/);
    expect(pulled()).toBeLessThan(layout.head.length + 3 * 4096); // the header, not the weights
  });

  it('the converter refuses it before writing anything', async () => {
    const root = await mkdtemp(join(tmpdir(), 'bimamba-supported-'));
    const dir = await copyFixture('bimamba-tiny', join(root, 'ckpt'));
    await editConfig(dir, (c) => { c.ssm_cfg.norm_before_gate = true; });
    const out = join(root, 'out.bimamba');
    const e = await rejection(convertCheckpoint(dir, out, { onWarning: () => {} }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/norm_before_gate/);
    const { existsSync } = await import('node:fs');
    expect(existsSync(out)).toBe(false);
  });
});

describe('special tokens', () => {
  it("the config's BOS and EOS ids win over the tokenizer's guesses by name", async () => {
    const root = await mkdtemp(join(tmpdir(), 'bimamba-special-'));
    const dir = await copyFixture('bimamba-tiny', join(root, 'ckpt'));
    await editConfig(dir, (c) => { c.bos_token_id = 6; c.eos_token_id = 5; });
    const tok = join(root, 'tokenizer.json');
    await writeFile(tok, byteTokenizerJson()); // names <|endoftext|> (id 256), the usual EOS guess
    const out = join(root, 'model.bimamba');
    await convertCheckpoint(dir, out, { tokenizer: tok, onWarning: () => {} });
    const model = await loadModel(out, { wasm: WASM });
    expect(model.tokenizer?.eosTokenId).toBe(256);
    expect(model.eosTokenId).toBe(5);
    expect(model.bosTokenId).toBe(6);
    model.dispose();
  });
});
