// Threads: a model on 2 threads (the threads build over shared memory, a worker pool) splits its big
// kernels (every projection, the exact 1-bit one included, and the heads' conv, time step and scan) and gives the same bits as on
// 1, on the fast and the exact path; the option is checked; a worker's failure is an error.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { loadModel } from '../../src/model/model.js';
import { SPLIT_KERNELS, type Core } from '../../src/wasm/core.js';
import { compileCore, instantiateCore } from '../../src/wasm/loader.js';
import { LINGER_MS, ThreadPool, workerCount } from '../../src/wasm/pool.js';
import { rejection } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { ensureSyntheticModel, type SyntheticModel } from '../util/synthetic-model.js';
import { WASM, WASM_THREADS } from '../util/wasm.js';


// A small Bi-Mamba (d_model 256: in_proj 1288 x 256), big enough that decoding steps are split too.
const SMALL: SyntheticModel = { name: 'bimamba-small', d_model: 256, n_layer: 2, binarized: true, head: 'int8', params: 'small' };
let smallPath: string;
let smallQ4Path: string; // the same with a 4-bit head
beforeAll(async () => {
  smallPath = join(tmpdir(), `bimamba-small-${process.pid}.bimamba`);
  await ensureSyntheticModel(SMALL, smallPath);
  smallQ4Path = join(tmpdir(), `bimamba-small-q4-${process.pid}.bimamba`);
  await ensureSyntheticModel({ ...SMALL, head: 'q4' }, smallQ4Path);
});
afterAll(() => { rmSync(smallPath, { force: true }); rmSync(smallQ4Path, { force: true }); });

function tokens(n: number): number[] {
  const rng = new Rng(3);
  return Array.from({ length: n }, () => rng.int(3, 32000));
}

/** Logits of a prompt fed at once, then of 5 tokens fed one at a time. */
function run(model: Awaited<ReturnType<typeof loadModel>>): Float32Array[] {
  const s = model.createSession();
  const out = [s.feed(tokens(40))];
  for (const t of tokens(5)) out.push(s.feed([t]));
  s.dispose();
  return out;
}

/** The kernels a model's pool ran in several pieces, by name, and how many pieces its workers took. */
function splits(model: Awaited<ReturnType<typeof loadModel>>): { kernels: string[]; workerPieces: number } {
  const pool = (model as unknown as { core: Core }).core.pool!;
  return { kernels: SPLIT_KERNELS.filter((_, i) => (pool.splitJobs[i] ?? 0) > 0), workerPieces: pool.workerPieces };
}

describe('threads', () => {
  // what 40 prompt tokens of the small model split on each path: both projections' kernels and the heads (conv, time step and scan: ssd2)
  const SPLIT_BY = {
    'fast int8': ['onebit_fast_rows', 'i8_fast_rows', 'ssd2_heads_bf16'],
    'exact int8': ['onebit_rows', 'i8_rows', 'ssd2_heads'],
    'fast q4': ['onebit_fast_rows', 'q4_fast_rows', 'ssd2_heads_bf16'],
    'exact q4': ['onebit_rows', 'q4_rows', 'ssd2_heads'],
    'fast8 int8': ['onebit_fast8_rows', 'i8_fast_rows', 'ssd2_heads_bf16'],
  };
  for (const [exact, head, activationBits] of [[false, 'int8', 12], [true, 'int8', 12], [false, 'q4', 12], [true, 'q4', 12], [false, 'int8', 8]] as const) {
    const path = `${exact ? 'exact' : activationBits === 8 ? 'fast8' : 'fast'} ${head}` as keyof typeof SPLIT_BY;
    it(`2 threads split ${SPLIT_BY[path].join(', ')} and give the same bits as 1 (${path.split(' ')[0]} path, ${head} head)`, async () => {
      const file = head === 'q4' ? smallQ4Path : smallPath;
      const one = await loadModel(file, { wasm: WASM, threads: 1, exact, activationBits });
      const two = await loadModel(file, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 2, exact, activationBits });
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      const a = run(one), b = run(two);
      const { kernels, workerPieces } = splits(two);
      for (const kernel of SPLIT_BY[path]) expect(kernels).toContain(kernel);
      expect(workerPieces).toBeGreaterThan(0); // the other thread did compute some of them
      for (let i = 0; i < a.length; i++) expect(b[i]).toEqual(a[i]);
      one.dispose();
      two.dispose();
    });
  }

  it('3 threads on 2 cores still give the same bits', async () => {
    const one = await loadModel(smallPath, { wasm: WASM, threads: 1 });
    const three = await loadModel(smallPath, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 3 });
    expect(three.threads).toBe(3);
    expect(run(three)).toEqual(run(one));
    one.dispose();
    three.dispose();
  });

  it("'auto' with a given single-thread core but no threads build runs on one thread", async () => {
    const model = await loadModel(smallPath, { wasm: WASM });
    expect(model.threads).toBe(1);
    model.dispose();
  });

  it('refuses a bad thread count, naming it', async () => {
    for (const threads of [0, -1, 1.5, 65, NaN, 'all' as unknown as number]) {
      await expect(loadModel(smallPath, { wasm: WASM, threads })).rejects.toThrow(/invalid threads/);
    }
  });

  it('a model used after dispose() fails cleanly, and its workers end once no model uses them', async () => {
    const terminate = vi.spyOn(NodeWorker.prototype, 'terminate');
    const model = await loadModel(smallPath, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 3 });
    const s = model.createSession();
    s.feed(tokens(3));
    expect(workerCount()).toBe(2);
    model.dispose();
    expect(() => s.feed(tokens(1))).toThrow(BimambaError);
    // the workers wait LINGER_MS for a next model (src/wasm/pool.ts), then end
    expect(terminate).not.toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, LINGER_MS + 500));
    expect(terminate).toHaveBeenCalledTimes(2);
    expect(workerCount()).toBe(0);
    terminate.mockRestore();
  });

  it('an explicit request that cannot be met is a THREADS error; only auto settles for one thread', async () => {
    // threads: 2 with a single-thread core and no threads build
    const e1 = await rejection(loadModel(smallPath, { wasm: WASM, threads: 2 }));
    expect(e1.code).toBe('THREADS');
    expect(e1.message).toMatch(/wasmThreads/);
    // a wasmThreads that is not a threads build (its memory is not shared): it cannot be instantiated
    const e2 = await rejection(loadModel(smallPath, { wasm: WASM, wasmThreads: WASM, threads: 2 }));
    expect(e2.code).toBe('THREADS');
    const e3 = await rejection(loadModel(smallPath, { wasm: WASM, wasmThreads: WASM }));
    expect(e3.code).toBe('THREADS');
    // a host without SharedArrayBuffer: explicit threads fail, 'auto' runs on one thread and says so
    const sab = globalThis.SharedArrayBuffer;
    try {
      (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
      expect((await rejection(loadModel(smallPath, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 2 }))).code).toBe('THREADS');
      for (const options of [{ wasm: WASM }, { wasm: WASM, wasmThreads: WASM_THREADS }]) {
        const auto = await loadModel(smallPath, { ...options, threads: 'auto' });
        expect(auto.threads).toBe(1);
        auto.dispose();
      }
    } finally {
      globalThis.SharedArrayBuffer = sab;
    }
  });
});

describe('ThreadPool', () => {
  it('reports a kernel that fails on a worker as a THREADS error, and keeps working', async () => {
    const module = await compileCore(WASM_THREADS);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true });
    const pool = await ThreadPool.start(module, memory, 2, SPLIT_KERNELS);
    try {
      // f32_rows writing far outside the 128 KiB memory traps wherever it runs; the calling
      // thread's pieces do nothing, slowly, so that the worker takes one
      const id = SPLIT_KERNELS.indexOf('f32_rows');
      let error: unknown = null;
      try {
        pool.run(id, [2 ** 30, 0, 0, 1, 8, 4, 4], 8, 4, () => { const until = Date.now() + 200; while (Date.now() < until); });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BimambaError);
      expect((error as BimambaError).code).toBe('THREADS');
      // the next job runs normally, its pieces shared out: every row computed, by one thread or the other.
      // A real matmul over the shared memory: y = x W^T with x [1, 4] = 1 and W [64, 4] = row index,
      // so row r is 4r; y starts as NaN, so a row nobody computed shows.
      const f32 = new Float32Array(memory.buffer);
      const x = 1024, w = 2048, y = 4096;
      f32.fill(1, x / 4, x / 4 + 4);
      for (let r = 0; r < 64; r++) f32.fill(r, w / 4 + 4 * r, w / 4 + 4 * r + 4);
      f32.fill(NaN, y / 4, y / 4 + 64);
      // The calling thread's pieces are slow, so the worker takes some: the rows this thread computed
      // are then fewer than 64, and each only once.
      const kernels = await instantiateCore(module, memory);
      const mine: number[] = [];
      const before = pool.workerPieces;
      pool.run(id, [y, x, w, 1, 64, 4, 4], 64, 4, (a, b) => {
        for (let r = a; r < b; r++) mine.push(r);
        kernels.f32_rows(y, x, w, 1, 64, 4, 4, a, b);
        const until = Date.now() + 100; while (Date.now() < until);
      });
      expect(Array.from(new Float32Array(memory.buffer, y, 64))).toEqual(Array.from({ length: 64 }, (_, r) => 4 * r));
      expect(new Set(mine).size).toBe(mine.length);
      expect(mine.length).toBeLessThan(64);
      expect(pool.workerPieces - before).toBe(pool.threads * 2 - mine.length / 16); // 4 pieces of 16 rows
    } finally {
      pool.dispose();
    }
  });
});
