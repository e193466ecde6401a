// A checkpoint directory from someone else: links out of it, FIFOs and devices in place of files, huge or
// deeply nested JSON, an index naming "..", a corrupt torch archive, out-of-range config values, and an
// output path that is one of the inputs. Each is refused with a BimambaError before anything is written
// (SECURITY.md, "The converter").
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint, type ConvertOptions } from '../../src/convert/convert.js';
import { INPUT_LIMITS } from '../../src/convert/input-files.js';
import { bytesSource, readZipDirectory } from '../../src/format/zip.js';
import { byteTokenizerJson, checkpointDir } from '../util/fixtures.js';
import { copyFixture, editConfig, readConverted, rejection } from './helpers.js';

let tmp = '';
let n = 0;
const copy = (name: string) => copyFixture(name, join(tmp, `${name}-${n++}`));
const outPath = () => join(tmp, `out-${n++}.bimamba`);

beforeAll(async () => { tmp = await mkdtemp(join(tmpdir(), 'bimamba-untrusted-')); });
afterAll(async () => rm(tmp, { recursive: true, force: true }));

/** Convert, expect `code` and `message`, and that no output (nor its temporary file) was left. */
async function refused(dir: string, code: string, message: RegExp, opts: ConvertOptions = {}, out = outPath()) {
  const existed = (await readdir(dirname(out))).includes(basename(out));
  const e = await rejection(convertCheckpoint(dir, out, { onWarning: () => {}, ...opts }));
  expect(e.code, e.message).toBe(code);
  expect(e.message).toMatch(message);
  const left = (await readdir(dirname(out))).filter((f) => f.startsWith(`.${basename(out)}.`) || (!existed && f === basename(out)));
  expect(left).toEqual([]);
}

/** A file outside every checkpoint: JSON with a "model" key, as a tokenizer.json has, and a secret. */
async function secretFile(): Promise<string> {
  const path = join(tmp, `secret-${n++}.json`);
  await writeFile(path, JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, aws_secret_access_key: 'SECRET-42' }));
  return path;
}

describe('symbolic links out of the checkpoint directory', () => {
  it('a tokenizer.json linked to a file outside is refused, and read only with followSymlinks', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const outside = join(tmp, `tokenizer-${n++}.json`);
    await writeFile(outside, byteTokenizerJson());
    await symlink(outside, join(dir, 'tokenizer.json'));
    await refused(dir, 'BAD_CHECKPOINT', /tokenizer\.json \(the tokenizer\) is a symbolic link to .* outside the checkpoint directory/);
    const out = outPath();
    await convertCheckpoint(dir, out, { onWarning: () => {}, followSymlinks: true });
    expect((await readConverted(out)).header.tokenizerJson).toBe(byteTokenizerJson());
  });

  it('a secret JSON file with a "model" key is not embedded', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await symlink(await secretFile(), join(dir, 'tokenizer.json'));
    await refused(dir, 'BAD_CHECKPOINT', /symbolic link .* outside the checkpoint directory/);
  });

  it('config.json, tokenizer_config.json, the index and a weight file linked out are refused', async () => {
    const linkOut = async (name: string, makeOutside: (dir: string, outside: string) => Promise<void>) => {
      const dir = await copy('mamba1-tiny-hf');
      const outside = join(tmp, `outside-${n++}-${name}`);
      await makeOutside(dir, outside);
      await symlink(outside, join(dir, name));
      await refused(dir, 'BAD_CHECKPOINT', new RegExp(`${name.replace(/\./g, '\\.')} \\(.*\\) is a symbolic link`));
    };
    await linkOut('config.json', async (dir, outside) => rename(join(dir, 'config.json'), outside));
    await linkOut('tokenizer_config.json', async (_dir, outside) => writeFile(outside, '{"bos_token": "a"}'));
    await linkOut('model.safetensors', async (dir, outside) => rename(join(dir, 'model.safetensors'), outside));
    await linkOut('model.safetensors.index.json', async (dir, outside) => {
      await rename(join(dir, 'model.safetensors'), join(dir, 'shard.safetensors'));
      await writeFile(outside, JSON.stringify({ weight_map: { 'backbone.norm_f.weight': 'shard.safetensors' } }));
    });
  });

  it('links inside the directory are read, and a Hugging Face cache snapshot reads its blobs', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await mkdir(join(dir, 'weights'));
    await rename(join(dir, 'model.safetensors'), join(dir, 'weights', 'real.safetensors'));
    await symlink(join('weights', 'real.safetensors'), join(dir, 'model.safetensors'));
    await convertCheckpoint(dir, outPath(), { onWarning: () => {} });

    // models--org--name/snapshots/<revision>/config.json -> ../../blobs/<hash>, as huggingface_hub lays it out
    const repo = join(tmp, `hub-${n++}`, 'models--org--tiny');
    const snapshot = join(repo, 'snapshots', 'abc123');
    await mkdir(join(repo, 'blobs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    for (const f of await readdir(checkpointDir('mamba1-tiny-hf'))) {
      await writeFile(join(repo, 'blobs', `blob-${f}`), await readFile(join(checkpointDir('mamba1-tiny-hf'), f)));
      await symlink(join('..', '..', 'blobs', `blob-${f}`), join(snapshot, f));
    }
    await convertCheckpoint(snapshot, outPath(), { onWarning: () => {} });
    // but not a file beside the repository
    const beside = await secretFile();
    await symlink(join('..', '..', '..', beside.split('/').pop()!), join(snapshot, 'tokenizer.json'));
    await rename(beside, join(repo, '..', beside.split('/').pop()!));
    await refused(snapshot, 'BAD_CHECKPOINT', /symbolic link .* outside the checkpoint directory/);
  });
});

describe('files that are not regular files, and files too large', () => {
  it('/dev/zero as the tokenizer, a weight file or the config is refused at once, not read', async () => {
    for (const name of ['tokenizer.json', 'config.json']) {
      const dir = await copy('mamba1-tiny-hf');
      await rm(join(dir, name), { force: true });
      await symlink('/dev/zero', join(dir, name));
      await refused(dir, 'BAD_CHECKPOINT', /is a character device, not a regular file/, { followSymlinks: true });
    }
    const dir = await copy('mamba1-tiny-hf');
    await refused(dir, 'BAD_ARGUMENT', /\/dev\/zero \(the tokenizer\) is a character device/, { tokenizer: '/dev/zero' });
    await refused(dir, 'BAD_ARGUMENT', /\/dev\/zero \(the config\) is a character device/, { config: '/dev/zero' });
  });

  it('a FIFO as tokenizer.json or --tokenizer is refused, without waiting for a writer', async () => {
    const dir = await copy('mamba1-tiny-hf');
    execFileSync('mkfifo', [join(dir, 'tokenizer.json')]);
    await refused(dir, 'BAD_CHECKPOINT', /tokenizer\.json \(the tokenizer\) is a FIFO/);
    await refused(await copy('mamba1-tiny-hf'), 'BAD_ARGUMENT', /is a FIFO/, { tokenizer: join(dir, 'tokenizer.json') });
  }, 10_000);

  it('a config.json over its cap is refused before it is parsed', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const config = await readFile(join(dir, 'config.json'), 'utf8');
    await writeFile(join(dir, 'config.json'), config.replace('{', `{${' '.repeat(INPUT_LIMITS.config)}`));
    await refused(dir, 'BAD_CHECKPOINT', new RegExp(`config\\.json \\(the config\\) is \\d+ bytes, over the limit of ${INPUT_LIMITS.config}`));
  });

  it('a checkpoint path that is a file is a clear error, not ENOTDIR', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await refused(join(dir, 'model.safetensors'), 'BAD_ARGUMENT', /model\.safetensors is a file, not a checkpoint directory/);
  });
});

describe('the JSON inputs are checked before they are parsed', () => {
  it('a config.json nested deeply is refused, also when its brackets hide behind JSON5 strings and comments', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const config = await readFile(join(dir, 'config.json'), 'utf8');
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    await writeFile(join(dir, 'config.json'), config.replace('{', `{"x": ${deep},`));
    await refused(dir, 'BAD_FORMAT', /config\.json: JSON nested more than 16 levels deep/);
    // a single-quoted string holding a double quote must not make the scan skip the nesting after it
    await writeFile(join(dir, 'config.json'), config.replace('{', `{a: '"', x: ${deep}, b: '"',`));
    await refused(dir, 'BAD_FORMAT', /nested more than 16 levels/);
    // and brackets inside JSON5 strings and comments are not nesting: this config converts
    await writeFile(join(dir, 'config.json'), config.replace('{', `{ // [[[[[[[[[[[[[[[[[[[[\n a: '[[[[[[[[[[[[[[[[[[[[[', /* {{{{{{{{{{{{{{{{{{{{{{{{{{{{ */`));
    await convertCheckpoint(dir, outPath(), { onWarning: () => {} });
  });

  it('a tokenizer.json nested deeper than the loader accepts is refused, not written', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const tok = JSON.parse(byteTokenizerJson());
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok).replace('"normalizer":null', `"normalizer":${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    await refused(dir, 'BAD_FORMAT', /tokenizer\.json: JSON nested more than 64 levels deep/);
  });

  it('an index nested deeply, or naming "..", is refused as a BimambaError', async () => {
    const dir = await copy('mamba1-tiny-hf');
    await writeFile(join(dir, 'model.safetensors.index.json'), `{"weight_map": {"a": "model.safetensors"}, "x": ${'['.repeat(1000)}${']'.repeat(1000)}}`);
    await refused(dir, 'BAD_FORMAT', /index\.json: JSON nested more than 8 levels deep/);
    for (const shard of ['..', '.']) {
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'backbone.norm_f.weight': shard } }));
      await refused(dir, 'BAD_CHECKPOINT', /shard names must be plain file names/);
    }
  });
});

describe('config values out of range', () => {
  it('a bos_token_id past the vocabulary is refused', async () => {
    for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
      const dir = await copy('mamba1-tiny-hf');
      await editConfig(dir, (c) => { c[key] = 1_000_000; });
      await refused(dir, 'BAD_CHECKPOINT', new RegExp(`"${key}" is 1000000, past the vocabulary`));
    }
  });

  it('a reversed or negative time_step_limit is refused', async () => {
    for (const limit of [[1, 0.5], [-1, 2], ['-Infinity', 1]]) {
      const dir = await copy('mamba2-tiny-hf');
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      config.time_step_limit = limit.map((v) => (v === '-Infinity' ? '__NEG_INF__' : v));
      await writeFile(join(dir, 'config.json'), JSON.stringify(config).replace('"__NEG_INF__"', '-Infinity'));
      await refused(dir, 'BAD_CHECKPOINT', /"time_step_limit" must (start|end) at/);
    }
  });
});

describe('an output that is an input', () => {
  it('convert ck ck/model.safetensors is refused, and so is another name of an input', async () => {
    const dir = await copy('mamba1-tiny-hf');
    const before = await readFile(join(dir, 'model.safetensors'));
    await refused(dir, 'BAD_ARGUMENT', /the output .*model\.safetensors is an input of the conversion/, {}, join(dir, 'model.safetensors'));
    await refused(dir, 'BAD_ARGUMENT', /is an input of the conversion/, {}, join(dir, '.', 'config.json'));
    const other = join(tmp, `hard-link-${n++}`); // the same file under another name
    await link(join(dir, 'model.safetensors'), other);
    const e = await rejection(convertCheckpoint(dir, other, { onWarning: () => {} }));
    expect([e.code, e.message]).toEqual(['BAD_ARGUMENT', expect.stringMatching(/hard-link-\d+ is an input of the conversion/)]);
    expect(await readFile(join(dir, 'model.safetensors'))).toEqual(before);
  });
});

describe('a torch archive with a flipped bit', () => {
  it('is refused by its CRC-32, not converted into a file with a valid CRC of its own', async () => {
    const dir = await copy('mamba1-tiny-ssm');
    const path = join(dir, 'pytorch_model.bin');
    const bytes = new Uint8Array(await readFile(path));
    const entries = await readZipDirectory(bytesSource(bytes), 'x');
    const storage = [...entries.values()].find((e) => /\/data\/\d+$/.test(e.name) && e.size > 64)!;
    const view = new DataView(bytes.buffer);
    const dataStart = storage.localHeaderOffset + 30 + view.getUint16(storage.localHeaderOffset + 26, true) + view.getUint16(storage.localHeaderOffset + 28, true);
    bytes[dataStart + 10] ^= 0x04;
    await writeFile(path, bytes);
    await refused(dir, 'BAD_FORMAT', /entry ".*\/data\/\d+" is corrupt: its CRC-32 is [0-9a-f]{8}, the archive says [0-9a-f]{8}/);
  });
});
