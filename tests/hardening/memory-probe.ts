// Run by memory.test.ts and long-run.test.ts in a child process started with --expose-gc, so memory
// can be measured after full garbage collections. Prints one JSON line.
//
//   node --expose-gc --import tsx memory-probe.ts dispose MODEL WASM   load + run + dispose, 25 times
//   node --expose-gc --import tsx memory-probe.ts long MODEL WASM      one generation of 10,000 tokens
import { loadModel } from '../../src/model/model.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** Memory after collecting everything collectable. */
async function settled(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage();
}

const [mode, model, wasm] = process.argv.slice(2);

if (mode === 'dispose') {
  // 5 rounds to warm up (compiled code, caches), then 20 measured rounds
  let baseline: NodeJS.MemoryUsage | null = null;
  let firstMemory: WeakRef<WebAssembly.Memory> | null = null;
  let memoryBytes = 0;
  for (let round = 0; round < 25; round++) {
    if (round === 5) baseline = await settled();
    const m = await loadModel(model, { wasm });
    memoryBytes = m.memoryBytes;
    const s = m.createSession();
    s.feed([1, 2, 3]);
    if (round === 5) firstMemory = new WeakRef((m as unknown as { core: { memory: WebAssembly.Memory } }).core.memory);
    m.dispose();
  }
  const end = await settled();
  console.log(JSON.stringify({ baseline, end, memoryBytes, firstMemoryCollected: firstMemory!.deref() === undefined }));
} else if (mode === 'long') {
  const m = await loadModel(model, { wasm });
  const wasmBytes: number[] = [];
  const heapUsed: number[] = [];
  let n = 0;
  for await (const _ of m.generate([1, 2, 3], { maxTokens: 10_000, temperature: 1, topK: 40, repetitionPenalty: 1.1, seed: 5, stopAtEos: false })) {
    n++;
    if (n === 10 || n % 1000 === 0) {
      wasmBytes.push(m.memoryBytes);
      gc();
      heapUsed.push(process.memoryUsage().heapUsed);
    }
  }
  m.dispose();
  console.log(JSON.stringify({ tokens: n, wasmBytes, heapUsed }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
