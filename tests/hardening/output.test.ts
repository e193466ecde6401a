// The converter writes only where asked: its temporary file is created exclusively under a random
// name beside the output, so a symlink planted at a name it might use is never written through; an
// output directory that does not exist, or an output path that is a directory, is a BimambaError.
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { readBimambaHeader } from '../../src/format/bimamba.js';
import { rejection } from '../util/errors.js';
import { checkpointDir } from '../util/fixtures.js';

const CHECKPOINT = checkpointDir('mamba1-tiny-hf');
const convert = (out: string) => convertCheckpoint(CHECKPOINT, out, { onWarning: () => {} });

describe('convert output', () => {
  it('never writes through a symlink planted beside the output, and leaves only the output behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bimamba-out-'));
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'precious');
    const out = join(dir, 'model.bimamba');
    await symlink(victim, `${out}.tmp`); // the name the converter once used
    await convert(out);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    const bytes = new Uint8Array(await readFile(out));
    expect(readBimambaHeader(bytes, { fileSize: bytes.length }).config.arch).toBe('mamba1');
    expect((await readdir(dir)).sort()).toEqual(['model.bimamba', 'model.bimamba.tmp', 'victim.txt']);
  });

  it('an output in a directory that does not exist, or an output path that is a directory, is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bimamba-out-'));
    const missing = await rejection(convert(join(dir, 'no', 'such', 'model.bimamba')));
    expect(missing.code).toBe('BAD_ARGUMENT');
    expect(missing.message).toMatch(/does not exist/);
    await mkdir(join(dir, 'taken.bimamba'));
    const isDir = await rejection(convert(join(dir, 'taken.bimamba')));
    expect(isDir.code).toBe('BAD_ARGUMENT');
    expect(isDir.message).toMatch(/is a directory/);
    expect(await readdir(join(dir, 'taken.bimamba'))).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['taken.bimamba']); // no temporary file left
  });
});
