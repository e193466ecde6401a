// One list of tensor names (TENSOR_NAMES, src/format/tensors.ts): the tensors the loader reads into the
// graph's weights are exactly those the converter's plan lists, for every architecture and head.
import { describe, expect, it } from 'vitest';
import { loadBimambaFile } from '../../src/format/bimamba.js';
import { headStorageOf, headTensors, modelTensorSpecs } from '../../src/format/tensors.js';
import { weightsFrom } from '../../src/model/weights.js';
import { createCore } from '../../src/wasm/core.js';
import { convertFixture, FIXTURE_NAMES } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

describe.each(FIXTURE_NAMES)('%s', (name) => {
  for (const head of ['f32', 'int8', 'q4'] as const) {
    it(`${head} head: the loader reads every tensor of the plan, and only those`, async () => {
      const core = await createCore({ wasm: WASM, threads: 1 });
      const file = await loadBimambaFile(await convertFixture(name, { head }), core.heap);
      const planned = new Set<string>();
      for (const spec of modelTensorSpecs(file.config)) {
        if (spec.category !== 'head') planned.add(spec.name);
        else for (const t of headTensors(spec, headStorageOf(file.tensors.get(spec.name)!.dtype)!)) planned.add(t.name);
      }
      const asked = new Set<string>();
      const tensors = file.tensors;
      const recording = new Map(tensors);
      recording.get = (key: string) => { asked.add(key); return tensors.get(key); };
      weightsFrom({ ...file, tensors: recording }, file.config, core.heap);
      const read = [...asked].filter((n) => tensors.has(n)).sort();
      expect(read).toEqual([...planned].sort());
      expect([...tensors.keys()].sort()).toEqual([...planned].sort());
    });
  }
});
