// Corruption: CRC-32 checksums of every tensor and of the metadata. A bit flipped anywhere in a
// .bimamba file, or a file cut short, is refused with an error naming the damaged tensor.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { readBimambaHeader, verifyBimambaFile, type BimambaHeader } from '../../src/format/bimamba.js';
import { CHECKSUMS_KEY } from '../../src/format/checksums.js';
import { crc32 } from '../../src/format/crc32.js';
import { loadModel } from '../../src/model/model.js';
import { rejection } from '../convert/helpers.js';
import { byteTokenizerJson, convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { encodeWithHeader } from './mutate.js';

let path = '';
let file: Uint8Array;
let header: BimambaHeader;

beforeAll(async () => {
  const tok = join(tmpdir(), `bimamba-corruption-tokenizer-${process.pid}.json`);
  writeFileSync(tok, byteTokenizerJson());
  path = await convertFixture('bimamba-tiny', { tokenizer: tok });
  file = new Uint8Array(readFileSync(path));
  header = readBimambaHeader(file, { fileSize: file.length });
});


/** The tensor (padding included) that holds byte `offset` of the data section. */
const tensorHolding = (offset: number) => header.layout.find((t) => offset >= t.begin && offset < t.end)!.name;

/** A stream of `bytes` in pieces of 1000 bytes, as a slow network would deliver them. */
function stream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + 1000));
      pos += 1000;
    },
  });
}

describe('crc32', () => {
  it('equals zlib\'s CRC-32 on random bytes of any length, and continues across any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
        const k = bytes.length ? cut % (bytes.length + 1) : 0;
        expect(crc32(bytes)).toBe(zlib.crc32(bytes));
        expect(crc32(bytes.subarray(k), crc32(bytes.subarray(0, k)))).toBe(zlib.crc32(bytes));
      }),
      { numRuns: 300, seed: 7 },
    );
    // and on a large buffer at an odd offset (the 8-byte steps and the byte tail both run)
    const big = new Uint8Array(1_000_003).map((_, i) => (i * 2654435761) >>> 24);
    expect(crc32(big.subarray(5))).toBe(zlib.crc32(big.subarray(5)));
  });
});

describe('checksums in .bimamba files', () => {
  it('the converter stores a CRC for every tensor, padding included, and for the metadata', async () => {
    const sums = JSON.parse(header.metadata[CHECKSUMS_KEY]);
    expect(sums.algorithm).toBe('crc32');
    expect(Object.keys(sums.tensors).sort()).toEqual(header.layout.map((t) => t.name).sort());
    expect(header.layout.some((t) => t.name.startsWith('__pad.'))).toBe(true);
    for (const t of header.layout) {
      expect(sums.tensors[t.name]).toBe(zlib.crc32(file.subarray(header.dataStart + t.begin, header.dataStart + t.end)).toString(16).padStart(8, '0'));
    }
    await verifyBimambaFile(path);
    const model = await loadModel(path, { wasm: WASM, verify: true });
    expect(model.logits([1, 2, 3]).every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it('a bit flipped anywhere in the data section is refused, naming the tensor that holds it', async () => {
    const offsets = fc.sample(fc.noBias(fc.nat({ max: header.dataBytes - 1 })), { numRuns: 60, seed: 11 });
    for (const [i, offset] of offsets.entries()) {
      const bad = file.slice();
      bad[header.dataStart + offset] ^= 1 << (i % 8);
      const e = await rejection(loadModel(bad, { wasm: WASM, verify: true }));
      expect(e.code).toBe('BAD_FORMAT');
      expect(e.message).toContain(`tensor "${tensorHolding(offset)}" does not match its checksum`);
    }
    // the same from a stream, and through verifyBimambaFile
    const bad = file.slice();
    bad[header.dataStart + header.dataBytes - 1] ^= 0x80;
    const last = header.layout[header.layout.length - 1].name;
    expect((await rejection(loadModel(stream(bad), { wasm: WASM, verify: true }))).message).toContain(`tensor "${last}"`);
    expect((await rejection(verifyBimambaFile(bad))).message).toContain(`tensor "${last}"`);
    // without verify the flipped file loads: the checksums are what catch it
    const unverified = await loadModel(bad, { wasm: WASM });
    unverified.dispose();
  });

  it('a bit flipped anywhere in the header is refused when verifying', async () => {
    const offsets = fc.sample(fc.noBias(fc.nat({ max: header.dataStart - 1 })), { numRuns: 300, seed: 12 });
    let accepted = 0;
    for (const [i, offset] of offsets.entries()) {
      const bad = file.slice();
      bad[offset] ^= 1 << (i % 8);
      try {
        await verifyBimambaFile(bad);
        accepted++;
        // only the padding after the JSON may change harmlessly (a space to another whitespace)
        expect(offset).toBeGreaterThan(8 + new TextDecoder().decode(file.subarray(8, header.dataStart)).trimEnd().length);
      } catch (e) {
        expect(e).toBeInstanceOf(BimambaError);
      }
    }
    expect(accepted).toBeLessThan(offsets.length / 10);
  });

  it('an edit of the config or the tokenizer that keeps the JSON valid is caught by the metadata checksum', async () => {
    const json = JSON.parse(new TextDecoder().decode(file.subarray(8, header.dataStart)));
    const config = JSON.parse(json.__metadata__.config);
    const edits = [
      { ...json, __metadata__: { ...json.__metadata__, config: JSON.stringify({ ...config, norm_eps: config.norm_eps * 10 }) } },
      { ...json, __metadata__: { ...json.__metadata__, tokenizer: json.__metadata__.tokenizer.replace('"<|endoftext|>"', '"<|endoftexx|>"') } },
    ];
    for (const edited of edits) {
      const bytes = encodeWithHeader(edited, file.subarray(header.dataStart));
      const e = await rejection(loadModel(bytes, { wasm: WASM, verify: true }));
      expect(e.message).toMatch(/metadata .* does not match its checksum/);
      (await loadModel(bytes, { wasm: WASM })).dispose(); // a valid file otherwise
    }
  });

  it('a truncated file is refused, naming the tensor it ends in, verified or not, from bytes or a stream', async () => {
    const cuts = fc.sample(fc.noBias(fc.integer({ min: 1, max: header.dataBytes - 1 })), { numRuns: 20, seed: 13 });
    for (const cut of cuts) {
      const short = file.slice(0, header.dataStart + cut);
      const name = tensorHolding(cut);
      for (const verify of [false, true]) {
        const fromBytes = await rejection(loadModel(short, { wasm: WASM, verify }));
        expect(fromBytes.message).toContain(`"${name}"`);
        expect(fromBytes.message).toMatch(/truncated/);
        const fromStream = await rejection(loadModel(stream(short), { wasm: WASM, verify }));
        expect(fromStream.message).toContain(`truncated: the data ends inside tensor "${name}"`);
      }
    }
  });

  it('verifying a file without checksums is refused with a clear message; loading it unverified works', async () => {
    const json = JSON.parse(new TextDecoder().decode(file.subarray(8, header.dataStart)));
    delete json.__metadata__[CHECKSUMS_KEY];
    const old = encodeWithHeader(json, file.subarray(header.dataStart));
    const e = await rejection(loadModel(old, { wasm: WASM, verify: true }));
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/no checksums/);
    (await loadModel(old, { wasm: WASM })).dispose();
  });

  it('the CLI verifies by default: `info` refuses a corrupt file, naming the tensor; --no-verify skips the check', () => {
    const bad = file.slice();
    const target = header.tensors.find((t) => t.name === 'layers.1.in_proj.bits')!;
    bad[header.dataStart + target.begin + 5] ^= 4;
    const badPath = join(tmpdir(), `bimamba-corrupt-${process.pid}.bimamba`);
    writeFileSync(badPath, bad);
    const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });
    const info = run('info', '--no-tensors', badPath);
    expect(info.status).toBe(1);
    expect(info.stderr).toContain('tensor "layers.1.in_proj.bits" does not match its checksum');
    const skipped = run('info', '--no-tensors', '--no-verify', badPath);
    expect(skipped.status).toBe(0);
    const good = run('info', '--no-tensors', path);
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/checksums: verified/);
  });
});
