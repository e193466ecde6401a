// Padded vocabularies: a checkpoint without a config whose embedding has more rows than its tokenizer has
// ids, by less than the padding multiple (bimamba-tiny: 1000 ids, 1008 rows), converts with the real
// vocabulary, and the log says the rest is padding; where a model file counts them as vocabulary anyway
// (converted without a tokenizer, one given at load time), perplexity's softmax leaves them out, and
// sampling never picks them.
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { perplexity } from '../../src/eval/perplexity.js';
import { logNormalizer } from '../../src/generate/logprobs.js';
import { loadModel } from '../../src/model/model.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { byteTokenizerJson, checkpointDir, maxDiff, readExpected } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

let tmp = '';
let bare = ''; // bimamba-tiny's weights alone: 1008 embedding rows, no config.json
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'bimamba-padding-'));
  bare = join(tmp, 'bare');
  await mkdir(bare);
  await copyFile(join(checkpointDir('bimamba-tiny'), 'pytorch_model.bin'), join(bare, 'ckpt.bin'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** The byte-level tokenizer with added tokens up to `ids` ids. */
async function tokenizerWith(ids: number): Promise<string> {
  const t = JSON.parse(byteTokenizerJson());
  for (let id = 257; id < ids; id++) t.added_tokens.push({ id, content: `<extra_${id}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const path = join(tmp, `tokenizer-${ids}.json`);
  await writeFile(path, JSON.stringify(t));
  return path;
}

async function convertBare(name: string, tokenizer?: string) {
  const info: string[] = [];
  const out = join(tmp, `${name}.bimamba`);
  const r = await convertCheckpoint(bare, out, { tokenizer, onInfo: (m) => info.push(m), onWarning: () => {} });
  return { out, config: r.config, log: info.join('\n') };
}

describe('converting without a config', () => {
  it("takes the vocabulary from a tokenizer that the rows pad (1000 ids, 1008 rows), and says so", async () => {
    const { out, config, log } = await convertBare('with-tokenizer', await tokenizerWith(1000));
    expect(config).toMatchObject({ vocab_size: 1000, padded_vocab_size: 1008 });
    expect(log).toMatch(/vocab_size 1000 \(from the tokenizer's 1000 ids; the other 8 of .*embedding\.weight \[1008, 64\]'s rows are padding, never sampled nor counted in ppl\)/);
    // the model's logits are the reference's 1000, not 1008
    const e = readExpected('bimamba-tiny');
    const model = await loadModel(out, { wasm: WASM, exact: true });
    expect(model.vocabSize).toBe(1000);
    const { diff, scale } = maxDiff(model.logits(e.inputIds), e.logits);
    expect(diff).toBeLessThanOrEqual(1e-3 * scale);
    model.dispose();
  });

  it('keeps every row where the tokenizer is far smaller (not a padding of it) or absent', async () => {
    expect((await convertBare('bytes', await tokenizerWith(257))).config).toMatchObject({ vocab_size: 1008, padded_vocab_size: 1008 });
    expect((await convertBare('none')).config).toMatchObject({ vocab_size: 1008, padded_vocab_size: 1008 });
  });
});

describe('a model file whose vocabulary counts the padding rows (converted without a tokenizer)', () => {
  it("ppl's softmax runs over the tokenizer's ids where the rest is padding, over every row where not", async () => {
    const { out } = await convertBare('rows-ppl'); // vocab_size 1008
    const text = 'In the beginning God created the heaven and the earth.';
    const nllOf = async (tokenizerIds: number, expectScored: number) => {
      const tokenizer = loadTokenizer(readFileSync(await tokenizerWith(tokenizerIds), 'utf8'));
      const model = await loadModel(out, { wasm: WASM, tokenizer });
      expect(model.vocabSize).toBe(1008);
      const ids = tokenizer.encode(text);
      const r = await perplexity(model, ids, { window: 64 });
      expect(r.scoredIds).toBe(expectScored);
      // by hand from the logits: log softmax over the first expectScored of each position's 1008
      const logits = model.logits(ids);
      let nll = 0, nllAllRows = 0;
      for (let t = 0; t + 1 < ids.length; t++) {
        const row = logits.subarray(t * 1008, (t + 1) * 1008);
        nll -= row[ids[t + 1]] - logNormalizer(row.subarray(0, expectScored));
        nllAllRows -= row[ids[t + 1]] - logNormalizer(row);
      }
      expect(r.nll).toBeCloseTo(nll / (ids.length - 1), 6);
      model.dispose();
      return { nll: r.nll, nllAllRows: nllAllRows / (ids.length - 1) };
    };
    const padded = await nllOf(1000, 1000);
    expect(Math.abs(padded.nll - padded.nllAllRows)).toBeGreaterThan(1e-4); // the padding rows would have weighed
    await nllOf(257, 1008); // not the model's tokenizer: every row counts, as in the reference
  });

  it('sampling never picks an id the tokenizer cannot decode', async () => {
    const { out } = await convertBare('rows-sample');
    const tokenizer = loadTokenizer(readFileSync(await tokenizerWith(257), 'utf8'));
    const model = await loadModel(out, { wasm: WASM, tokenizer });
    const drawn: number[] = [];
    for await (const { token } of model.generate('Once upon a time', { maxTokens: 200, temperature: 5, topK: 0, topP: 1, seed: 3, stopAtEos: false })) drawn.push(token);
    expect(Math.max(...drawn)).toBeLessThan(257);
    model.dispose();
  });
});
