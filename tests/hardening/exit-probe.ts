// Run by exit.test.ts in a child process: load a model on two threads, generate, and never dispose.
// The process must then exit by itself.
import { loadModel } from '../../src/model/model.js';

const [model, wasm, wasmThreads] = process.argv.slice(2);
const m = await loadModel(model, { wasm, wasmThreads, threads: 2 });
let n = 0;
for await (const _ of m.generate([1, 2, 3], { maxTokens: 8, seed: 1, stopAtEos: false })) n++;
console.log(JSON.stringify({ threads: m.threads, tokens: n }));
