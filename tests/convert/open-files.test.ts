// A conversion that fails leaves no file open: counted in /proc/self/fd (Linux), where a leaked
// FileHandle would stay until garbage collection.
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { checkpointDir } from '../util/fixtures.js';
import { rejection } from './helpers.js';

const openFiles = () => readdirSync('/proc/self/fd').length;

describe.runIf(existsSync('/proc/self/fd'))('open files', () => {
  it('a bad --tokenizer fails without leaving the weight files open', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'bimamba-fd-')), 'out.bimamba');
    const before = openFiles();
    for (let i = 0; i < 5; i++) {
      const e = await rejection(convertCheckpoint(checkpointDir('mamba2-tiny-hf'), out, { tokenizer: '/no/such/tokenizer.json', onWarning: () => {} }));
      expect(e.code).toBeDefined();
    }
    expect(openFiles()).toBe(before);
  });
});
