// Threads: a model on 2 threads (the threads build over shared memory, a worker pool) gives the same
// bits as on 1, on the fast and the exact path; the option is checked; a worker's failure is an error.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSyntheticModel, type SyntheticModel } from '../../bench/synthetic.js';
import { BimambaError } from '../../src/errors.js';
import { loadModel } from '../../src/model/model.js';
import { compileCore } from '../../src/wasm/loader.js';
import { ThreadPool } from '../../src/wasm/pool.js';
import { SPLIT_KERNELS } from '../../src/wasm/core.js';
import { Rng } from '../util/rng.js';
import { WASM } from '../model/fixtures.js';

const WASM_THREADS = WASM.replace(/bimamba\.wasm$/, 'bimamba-threads.wasm');

// A small Bi-Mamba (d_model 256: in_proj 1288 x 256), big enough that decoding steps are split too.
const SMALL: SyntheticModel = { name: 'bimamba-small', d_model: 256, n_layer: 2, binarized: true, head: 'int8', params: 'small' };
let smallPath: string;
beforeAll(async () => {
  smallPath = join(tmpdir(), `bimamba-small-${process.pid}.bimamba`);
  await ensureSyntheticModel(SMALL, smallPath);
});
afterAll(() => rmSync(smallPath, { force: true }));

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

describe('threads', () => {
  for (const exact of [false, true]) {
    it(`2 threads give the same bits as 1 (${exact ? 'exact' : 'fast'} path)`, async () => {
      const one = await loadModel(smallPath, { wasm: WASM, threads: 1, exact });
      const two = await loadModel(smallPath, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 2, exact });
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      const a = run(one), b = run(two);
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

  it('a model used after dispose() fails cleanly, and its workers are gone', async () => {
    const model = await loadModel(smallPath, { wasm: WASM, wasmThreads: WASM_THREADS, threads: 2 });
    const s = model.createSession();
    s.feed(tokens(3));
    model.dispose();
    expect(() => s.feed(tokens(1))).toThrow(BimambaError);
  });
});

describe('ThreadPool', () => {
  it('reports a kernel that fails on a worker as a THREADS error, and keeps working', async () => {
    const module = await compileCore(WASM_THREADS);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true });
    const pool = await ThreadPool.start(module, memory, 2, SPLIT_KERNELS);
    try {
      // matmul_f32_rows writing far outside the 128 KiB memory traps wherever it runs; the calling
      // thread's pieces do nothing, slowly, so that the worker takes one
      const id = SPLIT_KERNELS.indexOf('matmul_f32_rows');
      let error: unknown = null;
      try {
        pool.run(id, [2 ** 30, 0, 0, 1, 8, 4, 4], 8, 4, () => { const until = Date.now() + 200; while (Date.now() < until); });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BimambaError);
      expect((error as BimambaError).code).toBe('THREADS');
      // the next job runs normally, its pieces shared out: every row once
      const rows: number[] = [];
      pool.run(id, [1024, 0, 0, 1, 64, 4, 4], 64, 4, (a, b) => { for (let r = a; r < b; r++) rows.push(r); });
      expect(new Set(rows).size).toBe(rows.length);
      expect(rows.length).toBeLessThanOrEqual(64);
    } finally {
      pool.dispose();
    }
  });
});
