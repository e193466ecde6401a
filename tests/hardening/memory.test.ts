// Memory: a model that would not fit under maxMemoryBytes or WASM's 4 GiB is refused before anything
// is allocated or read; the need computed from the header is exactly what a load allocates; and
// dispose() gives everything back (measured in a child process with --expose-gc).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readBimambaHeader } from '../../src/format/bimamba.js';
import type { ModelConfig } from '../../src/format/config.js';
import { layoutSafetensors } from '../../src/format/safetensors.js';
import { modelTensorSpecs } from '../../src/format/tensors.js';
import { memoryNeed } from '../../src/model/memory.js';
import { loadModel, type Model } from '../../src/model/model.js';
import type { Core } from '../../src/wasm/core.js';
import { convertFixture, MODEL_FIXTURES, WASM } from '../model/fixtures.js';
import { rejection } from '../convert/helpers.js';

const coreOf = (m: Model) => (m as unknown as { core: Core }).core;
const roundUp = (n: number) => Math.ceil(n / 64) * 64;

/** A stream of `bytes` that counts what was pulled from it. */
function countingStream(bytes: Uint8Array): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pos = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + 4096));
      pos += 4096;
    },
  });
  return { stream, pulled: () => Math.min(pos, bytes.length) };
}

/** The header (and no data) of a .bimamba file for `config`, every tensor in its first dtype. */
function headerOnly(config: ModelConfig): Uint8Array {
  const plans = modelTensorSpecs(config).map((s) => ({ name: s.name, dtype: s.dtypes[0], shape: s.shape }));
  return layoutSafetensors(plans, { format: 'bimamba', format_version: '1', config: JSON.stringify(config) }, 64).head;
}


afterEach(() => vi.restoreAllMocks());

describe('memory', () => {
  it('the need computed from the header is exactly what loading a model and one session allocate (either state type)', async () => {
    const paths = [...(await Promise.all(MODEL_FIXTURES.map((f) => convertFixture(f)))), await convertFixture('mamba2-tiny-hf', { head: 'int8' })];
    for (const path of paths) {
      for (const [prefillChunk, stateType] of [[1, 'f32'], [37, 'bf16'], [64, 'f32']] as const) {
        const bytes = new Uint8Array(readFileSync(path));
        const model = await loadModel(bytes, { wasm: WASM, prefillChunk, stateType });
        const heap = coreOf(model).heap;
        const need = memoryNeed(readBimambaHeader(bytes, { fileSize: bytes.length }), coreOf(model).kernels, prefillChunk, false, stateType);
        const session = model.createSession();
        expect(need.session).toBe(model.stateBytes);
        expect(heap.allocatedBytes, path).toBe(need.total);
        // model.memory names every block, each the size the header says, and the parts add up
        const m = model.memory;
        expect(m.blocks).toEqual(Object.fromEntries(Object.entries({
          'model weights': need.weights, 'A = -exp(A_log)': need.derived, 'activation buffers': need.activations,
          'kernel scratch': need.kernelScratch, 'session state': need.session,
        }).filter(([, n]) => n > 0).map(([k, n]) => [k, roundUp(n)])));
        expect(m.sessions).toBe(1);
        expect(m.other + Object.values(m.blocks).reduce((a, b) => a + b, 0)).toBe(model.memoryBytes);
        expect(m.other).toBeGreaterThanOrEqual(0);
        session.dispose();
        model.dispose();
      }
    }
  });

  it('a model just over maxMemoryBytes is refused before its weights are read or memory grows; at the figure it names it loads', async () => {
    const path = await convertFixture('bimamba-tiny');
    const bytes = new Uint8Array(readFileSync(path));
    const header = readBimambaHeader(bytes, { fileSize: bytes.length });
    // the figure in the refusal is what the model takes: setting the cap to it must be enough
    const probe = await rejection(loadModel(bytes, { wasm: WASM, maxMemoryBytes: 65536 }));
    const need = Number(/needs (\d+) bytes/.exec(probe.message)?.[1]);
    expect(need % 65536).toBe(0);

    const grow = vi.spyOn(WebAssembly.Memory.prototype, 'grow');
    const { stream, pulled } = countingStream(bytes);
    const e = await rejection(loadModel(stream, { wasm: WASM, maxMemoryBytes: need - 1 }));
    expect(e.code).toBe('OUT_OF_MEMORY');
    expect(e.message).toMatch(/maxMemoryBytes cap of \d+ bytes.*nothing was allocated/);
    expect(e.message).toContain(`needs ${need} bytes`);
    expect(e.message).toMatch(/weights .* MiB/);
    expect(grow).not.toHaveBeenCalled();
    expect(pulled()).toBeLessThan(header.dataStart + 3 * 4096); // the header, not the data
    expect(header.dataBytes).toBeGreaterThan(100_000);
    grow.mockRestore();

    for (const cap of [need, need + 65535]) {
      const fits = await loadModel(bytes, { wasm: WASM, maxMemoryBytes: cap });
      fits.createSession().feed([1, 2]);
      expect(fits.memoryBytes).toBe(need); // the figure is exact, and the memory never passes the cap
      fits.dispose();
    }
  });

  it('a model over 4 GiB is refused from its header alone, naming the sizes', async () => {
    const base = JSON.parse(readBimambaHeader(new Uint8Array(readFileSync(await convertFixture('mamba1-tiny-hf'))), {}).metadata.config);
    // 2^20 x 1024 f32 embedding alone is 4 GiB; the stream holds the header and nothing else
    const config: ModelConfig = { ...base, vocab_size: 1 << 20, padded_vocab_size: 1 << 20, d_model: 1024, d_inner: 2048, dt_rank: 64 };
    const head = headerOnly(config);
    const grow = vi.spyOn(WebAssembly.Memory.prototype, 'grow');
    const { stream, pulled } = countingStream(head);
    const e = await rejection(loadModel(stream, { wasm: WASM }));
    expect(e.code).toBe('OUT_OF_MEMORY');
    expect(e.message).toMatch(/needs \d+ bytes .*WASM's 4 GiB/);
    expect(grow).not.toHaveBeenCalled();
    expect(pulled()).toBe(head.length);
  });

  it('an invalid maxMemoryBytes is refused', async () => {
    const path = await convertFixture('mamba1-tiny-hf');
    for (const bad of [NaN, -1, 0, '1e9' as unknown as number]) {
      const e = await rejection(loadModel(path, { wasm: WASM, maxMemoryBytes: bad }));
      expect(e.code).toBe('BAD_ARGUMENT');
      expect(e.message).toMatch(/maxMemoryBytes/);
    }
  });

  it('loading and disposing a 50 MB model 20 times does not grow the process\'s memory', async () => {
    // a model whose weights dominate: the mamba2 fixture's config with a 196,608-row f32 embedding
    const base = JSON.parse(readBimambaHeader(new Uint8Array(readFileSync(await convertFixture('mamba2-tiny-hf'))), {}).metadata.config);
    const config: ModelConfig = { ...base, vocab_size: 196_608, padded_vocab_size: 196_608 };
    const head = headerOnly(config);
    const h = readBimambaHeader(head, {});
    const file = new Uint8Array(head.length + h.dataBytes);
    file.set(head);
    new Float32Array(file.buffer, head.length, h.dataBytes / 4).fill(0.01);
    const path = join(tmpdir(), `bimamba-big-${process.pid}.bimamba`);
    writeFileSync(path, file);

    const probe = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe, 'dispose', path, WASM], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { baseline, end, memoryBytes, firstMemoryCollected } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(memoryBytes).toBeGreaterThan(50e6);
    // a leak would keep 20 x 50 MB; allow well under one model's worth of noise
    expect(end.external - baseline.external).toBeLessThan(memoryBytes / 2);
    expect(end.rss - baseline.rss).toBeLessThan(memoryBytes);
    expect(firstMemoryCollected).toBe(true);
  });
});
