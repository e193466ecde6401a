// The kernel set calls every kernel through data (src/wasm/kernel-set.ts, split-kernels.ts): each call
// must pass exactly the kernel's parameters (a WASM function quietly takes a missing one as 0), on every
// path and storage, with or without a pool of threads. Every kernel of the core is wrapped to record the
// calls whose argument count differs from the export's.
import { describe, expect, it, vi } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { convertFixture } from '../util/fixtures.js';
import { WASM, WASM_THREADS } from '../util/wasm.js';

const wrongCalls: string[] = [];
const calledKernels = new Set<string>();

vi.mock('../../src/wasm/loader.js', async (importOriginal) => {
  const loader = await importOriginal<typeof import('../../src/wasm/loader.js')>();
  return {
    ...loader,
    instantiateCore: async (module: WebAssembly.Module, memory: WebAssembly.Memory) => {
      const kernels = (await loader.instantiateCore(module, memory)) as unknown as Record<string, (...a: number[]) => unknown>;
      const checked: Record<string, (...a: number[]) => unknown> = {};
      for (const [name, f] of Object.entries(kernels)) {
        checked[name] = (...args: number[]) => {
          calledKernels.add(name);
          if (args.length !== f.length) wrongCalls.push(`${name}: ${args.length} arguments, takes ${f.length}`);
          return f(...args);
        };
      }
      return checked;
    },
  };
});

describe('the kernel set', () => {
  it('calls every kernel with its own number of arguments, on every path, storage and thread count', async () => {
    for (const fixture of ['bimamba-tiny', 'mamba1-tiny-hf', 'mamba2-tiny-hf']) {
      for (const head of ['f32', 'f16', 'int8', 'q4'] as const) {
        const path = await convertFixture(fixture, { head });
        for (const exact of [false, true]) {
          for (const stateType of ['f32', 'bf16'] as const) {
            const model = await loadModel(path, { wasm: WASM, exact, stateType, prefillChunk: 17 });
            model.logits([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
            await model.complete([1, 2, 3], { temperature: 0, maxTokens: 2, stopAtEos: false });
            model.dispose();
          }
        }
      }
    }
    // with a pool: the workers are handed the very argument list the calling thread's pieces are called with
    const threaded = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM, wasmThreads: WASM_THREADS, threads: 2 });
    threaded.logits([1, 2, 3]);
    threaded.dispose();
    // the 8-bit tables (activationBits: 8), alone and on the pool, over a batch of 16 and the rest
    for (const threads of [1, 2]) {
      const model = await loadModel(await convertFixture('bimamba-tiny'), { wasm: WASM, wasmThreads: WASM_THREADS, threads, activationBits: 8, prefillChunk: 17 });
      model.logits([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
      model.dispose();
    }
    expect(wrongCalls).toEqual([]);
    for (const k of ['onebit_rows', 'onebit_fast_rows', 'onebit_fast8_rows', 'onebit_fast8_prepare', 'f32_rows', 'f16_rows', 'i8_rows', 'i8_fast_rows', 'q4_rows', 'q4_fast_rows', 'scan1_channels', 'scan1_channels_bf16', 'ssd2_heads', 'ssd2_heads_bf16', 'conv1d_channels', 'gated_rmsnorm_tokens']) {
      expect(calledKernels, k).toContain(k);
    }
  });
});
