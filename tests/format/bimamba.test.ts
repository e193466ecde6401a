import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/convert/checkpoint.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { checkpointName } from '../../src/convert/names.js';
import { BimambaError } from '../../src/errors.js';
import { loadBimambaFile, readBimambaHeader, type BimambaFile, type BimambaHeader } from '../../src/format/bimamba.js';
import type { ModelSource } from '../../src/format/byte-reader.js';
import { toFloat32 } from '../../src/format/dtype.js';
import { layoutSafetensors, type TensorPlan } from '../../src/format/safetensors.js';
import { Heap } from '../../src/wasm/heap.js';
import { checkpointDir, tokenizerPath } from '../util/fixtures.js';
import { bytesOf } from '../util/numeric.js';

const newHeap = (maxBytes?: number) => new Heap(new WebAssembly.Memory({ initial: 1, maximum: 65536 }), 1024, maxBytes);

/** A stream handing out `bytes` in pieces of `size` (the first one tiny, to split the 8-byte length). */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      const n = pos === 0 ? 3 : size;
      c.enqueue(bytes.slice(pos, pos + n));
      pos += n;
    },
  });
}

let dir = '';
let path = '';
let fileBytes: Uint8Array;
let header: BimambaHeader;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bimamba-load-'));
  path = join(dir, 'mamba2.bimamba');
  await convertCheckpoint(checkpointDir('mamba2-tiny-hf'), path, { tokenizer: tokenizerPath('gpt-neox-20b') });
  fileBytes = new Uint8Array(await readFile(path));
  header = readBimambaHeader(fileBytes, { fileSize: fileBytes.length });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** Exact byte equality, fast on large arrays (vitest's deep equality walks element by element). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) => bytesOf(a).equals(bytesOf(b));

/** Every tensor in WASM memory equals its bytes in the file. */
function expectSameAsFile(file: BimambaFile, heap: Heap): void {
  expect(file.tensors.size).toBe(header.tensors.length);
  for (const t of header.tensors) {
    const loaded = file.tensors.get(t.name)!;
    expect(loaded.ptr % 64).toBe(0);
    expect(loaded.shape).toEqual(t.shape);
    expect(sameBytes(heap.u8(loaded.ptr, loaded.byteLength), fileBytes.subarray(header.dataStart + t.begin, header.dataStart + t.end)), t.name).toBe(true);
  }
}

describe('loadBimambaFile', () => {
  it('gives back the source checkpoint tensors exactly (f32 round trip)', async () => {
    const heap = newHeap();
    const file = await loadBimambaFile(path, heap);
    const source = await openCheckpoint(checkpointDir('mamba2-tiny-hf'));
    try {
      for (const [name, t] of file.tensors) {
        const src = source.tensors.get(checkpointName(name, 'hf'))!;
        expect(src, name).toBeDefined();
        expect(t.dtype).toBe('F32');
        const want = toFloat32(await src.read(), src.dtype, name);
        expect(want.length, name).toBe(t.byteLength / 4);
        expect(sameBytes(heap.f32(t.ptr, t.byteLength / 4), want), name).toBe(true);
      }
    } finally {
      await source.close();
    }
    expect(file.config.arch).toBe('mamba2');
    expect(file.tokenizerJson).toBe(await readFile(tokenizerPath('gpt-neox-20b'), 'utf8'));
    expect(file.metadata.format).toBe('bimamba');
  });

  const sources: [string, () => ModelSource][] = [
    ['a path', () => path],
    ['a file: URL', () => pathToFileURL(path)],
    ['a file: URL string', () => pathToFileURL(path).href],
    ['a Uint8Array', () => fileBytes],
    ['an ArrayBuffer', () => fileBytes.slice().buffer],
    ['a ReadableStream in odd chunks', () => chunked(fileBytes, 997)],
    ['a Response', () => new Response(chunked(fileBytes, 4096))],
  ];
  for (const [what, source] of sources) {
    it(`loads from ${what} into one heap block`, async () => {
      const heap = newHeap();
      const seen: number[] = [];
      const file = await loadBimambaFile(source(), heap, { onProgress: (done, total) => { seen.push(done); expect(total).toBe(header.dataBytes); } });
      expectSameAsFile(file, heap);
      expect(heap.allocatedBytes).toBe(Math.ceil(header.dataBytes / 64) * 64);
      expect(seen.at(-1)).toBe(header.dataBytes);
      heap.release(file.dataPtr);
    });
  }

  it('refuses a truncated file and frees what it allocated', async () => {
    const cut = fileBytes.subarray(0, fileBytes.length - 100);
    for (const source of [cut, chunked(cut, 1000)]) {
      const heap = newHeap();
      await expect(loadBimambaFile(source, heap)).rejects.toMatchObject({ code: 'BAD_FORMAT', message: expect.stringMatching(/truncated|past the end of the file/) });
      expect(heap.allocatedBytes).toBe(0);
    }
    // cut inside the header
    await expect(loadBimambaFile(fileBytes.subarray(0, 100), newHeap())).rejects.toMatchObject({ code: 'BAD_FORMAT', message: expect.stringMatching(/truncated/) });
  });

  it('refuses, before allocating, a model that does not fit under the memory cap', async () => {
    const heap = newHeap(256 * 1024);
    await expect(loadBimambaFile(fileBytes, heap)).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    expect(heap.allocatedBytes).toBe(0);
  });

  it('refuses a missing file with a clear error', async () => {
    await expect(loadBimambaFile(join(dir, 'nope.bimamba'), newHeap())).rejects.toThrow(/cannot open .*nope\.bimamba/);
  });
});

/** The file rewritten with its plan or metadata changed (data zero-filled). */
function rebuilt(change: (plans: TensorPlan[], metadata: Record<string, string>) => void, align = 64): Uint8Array {
  const plans: TensorPlan[] = header.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] }));
  const metadata = { ...header.metadata };
  change(plans, metadata);
  const layout = layoutSafetensors(plans, metadata, align);
  const out = new Uint8Array(layout.dataStart + layout.dataBytes);
  out.set(layout.head);
  return out;
}

/** Make the plan's embedding a 4-bit head ([1000, 64]: 2 groups) of a version-2 file, with changes to it and to its scale. */
function q4Head(plans: TensorPlan[], metadata: Record<string, string>, head: Partial<TensorPlan> = {}, scale: Partial<TensorPlan> = {}): void {
  metadata.format_version = '2';
  const i = plans.findIndex((t) => t.name === 'embedding');
  plans[i] = { name: 'embedding', dtype: 'U8', shape: [1000, 2, 16], ...head };
  plans.splice(i + 1, 0, { name: 'embedding.scale', dtype: 'BF16', shape: [1000, 2], ...scale });
}

describe('readBimambaHeader checks', () => {
  const cases: [string, () => Uint8Array, string, RegExp][] = [
    ['another safetensors file', () => rebuilt((_, m) => { m.format = 'pt'; }), 'BAD_FORMAT', /not a \.bimamba file/],
    ['a newer format version', () => rebuilt((_, m) => { m.format_version = '3'; }), 'UNSUPPORTED', /format version "3"; this version of the package reads versions 1 and 2/],
    ['a config that is not JSON', () => rebuilt((_, m) => { m.config = '{oops'; }), 'BAD_FORMAT', /"config" is missing or not JSON/],
    ['an invalid config', () => rebuilt((_, m) => { m.config = JSON.stringify({ ...JSON.parse(m.config), nheads: 3 }); }), 'BAD_FORMAT', /nheads 3 x headdim 32 must equal d_inner 128/],
    ['a missing tensor', () => rebuilt((p) => { p.splice(p.findIndex((t) => t.name === 'layers.1.D'), 1); }), 'BAD_FORMAT', /tensor "layers\.1\.D" is missing/],
    ['a tensor of the wrong shape', () => rebuilt((p) => { p.find((t) => t.name === 'layers.0.in_proj.weight')!.shape = [323, 64]; }), 'BAD_FORMAT', /"layers\.0\.in_proj\.weight" has shape \[323,64\], but the config implies \[324,64\]/],
    ['a tensor of a dtype it may not have', () => rebuilt((p) => { p.find((t) => t.name === 'layers.0.A_log')!.dtype = 'F16'; }), 'BAD_FORMAT', /"layers\.0\.A_log" has dtype F16; expected F32/],
    ['an unexpected tensor', () => rebuilt((p) => { p.push({ name: 'layers.0.x_proj.weight', dtype: 'F32', shape: [3] }); }), 'BAD_FORMAT', /unexpected tensor "layers\.0\.x_proj\.weight"/],
    ['tensors that are not 64-byte aligned', () => rebuilt(() => {}, 4), 'BAD_FORMAT', /not a multiple of 64/],
    // 4-bit heads: every shape is checked exactly, since the kernels read as many bytes as the config implies
    ['a 4-bit head in a version-1 file', () => rebuilt((p, m) => { q4Head(p, m); m.format_version = '1'; }), 'BAD_FORMAT', /"embedding" is a 4-bit head \(U8\), which needs format version 2/],
    ['a 4-bit head with too few groups', () => rebuilt((p, m) => { q4Head(p, m, { shape: [1000, 1, 16] }); }), 'BAD_FORMAT', /"embedding" has shape \[1000,1,16\], but the config implies \[1000,2,16\]/],
    ['a 4-bit head with short groups', () => rebuilt((p, m) => { q4Head(p, m, { shape: [1000, 2, 8] }); }), 'BAD_FORMAT', /"embedding" has shape \[1000,2,8\]/],
    ['a 4-bit head packed flat', () => rebuilt((p, m) => { q4Head(p, m, { shape: [1000, 32] }); }), 'BAD_FORMAT', /"embedding" has shape \[1000,32\], but the config implies \[1000,2,16\]/],
    ['a 4-bit head without its scale', () => rebuilt((p, m) => { q4Head(p, m); p.splice(p.findIndex((t) => t.name === 'embedding.scale'), 1); }), 'BAD_FORMAT', /tensor "embedding\.scale" is missing/],
    ['a 4-bit head with a scale per row', () => rebuilt((p, m) => { q4Head(p, m, {}, { shape: [1000] }); }), 'BAD_FORMAT', /"embedding\.scale" has shape \[1000\], but the config implies \[1000,2\]/],
    ['a 4-bit head with too few scales', () => rebuilt((p, m) => { q4Head(p, m, {}, { shape: [999, 2] }); }), 'BAD_FORMAT', /"embedding\.scale" has shape \[999,2\]/],
    ['a 4-bit head with F32 scales', () => rebuilt((p, m) => { q4Head(p, m, {}, { dtype: 'F32' }); }), 'BAD_FORMAT', /"embedding\.scale" has dtype F32; expected BF16/],
    ['an int8 head with a 4-bit head\'s scale', () => rebuilt((p, m) => { q4Head(p, m, { dtype: 'I8', shape: [1000, 64] }); }), 'BAD_FORMAT', /"embedding\.scale" has shape \[1000,2\], but the config implies \[1000\]/],
  ];
  for (const [what, make, code, message] of cases) {
    it(`refuses ${what}`, async () => {
      const bytes = make();
      let err: unknown;
      try { readBimambaHeader(bytes, { fileSize: bytes.length }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(BimambaError);
      expect((err as BimambaError).code).toBe(code);
      expect((err as Error).message).toMatch(message);
      // and the loader says the same, allocating nothing
      const heap = newHeap();
      await expect(loadBimambaFile(bytes, heap)).rejects.toMatchObject({ code });
      expect(heap.allocatedBytes).toBe(0);
    });
  }

  it('reads a version-2 file with a 4-bit head, and a version-2 file without one', () => {
    for (const change of [(p: TensorPlan[], m: Record<string, string>) => q4Head(p, m), (_: TensorPlan[], m: Record<string, string>) => { m.format_version = '2'; }]) {
      const bytes = rebuilt(change);
      const h = readBimambaHeader(bytes, { fileSize: bytes.length });
      expect(h.tensors.length).toBe(header.tensors.length + (h.tensors.some((t) => t.dtype === 'U8') ? 1 : 0));
    }
  });

  it('reads the header from the header bytes alone', () => {
    const h = readBimambaHeader(fileBytes.subarray(0, header.dataStart));
    expect(h.tensors.map((t) => t.name)).toEqual(header.tensors.map((t) => t.name));
    expect(h.config).toEqual(header.config);
  });
});
