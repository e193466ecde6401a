// What this machine can do at most, measured from WASM: the f32 SIMD peak of one thread and the
// streaming read bandwidth of one and two threads. The kernels' figures are read against these.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, availableParallelism, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { median, RELAXED, type MachineInfo } from './common.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = fileURLToPath(new URL('../assembly/bench/probe.ts', import.meta.url));
const output = `${root}.cache/bench/probe.wasm`;

/** Compile assembly/bench/probe.ts when its binary is missing or older. */
function probeModule(): WebAssembly.Module {
  if (!existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(`${root}.cache/bench`, { recursive: true });
    const asc = `${root}node_modules/assemblyscript/bin/asc.js`;
    execFileSync(process.execPath, [asc, source, '-O3', '--runtime', 'stub', '--enable', 'simd', '--importMemory', '--use', 'abort=', '-o', output], { cwd: root });
  }
  return new WebAssembly.Module(readFileSync(output));
}

interface Probe { peak_f32(iterations: number): number; read_sum(p: number, bytes: number): number }

const BUFFER = 256 * 2 ** 20;

function instantiate(module: WebAssembly.Module, bytes: number): { probe: Probe; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + 65536) / 65536) });
  new Uint8Array(memory.buffer).fill(1); // touch every page before timing
  return { probe: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Probe, memory };
}

function peakGflops(probe: Probe): number {
  const iterations = 2_000_000;
  probe.peak_f32(iterations); // warm-up
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    probe.peak_f32(iterations);
    times.push(performance.now() - t);
  }
  return (iterations * 12 * 8) / (median(times) * 1e6);
}

/** GB/s of one thread reading BUFFER bytes, median of 5. */
function readGbS(probe: Probe): number {
  probe.read_sum(65536, BUFFER);
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    probe.read_sum(65536, BUFFER);
    times.push(performance.now() - t);
  }
  return BUFFER / (median(times) * 1e6);
}

/** GB/s of `threads` workers reading their own BUFFER at the same time (all start together), median of 5 rounds. */
async function readGbSThreads(module: WebAssembly.Module, threads: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { module, bytes, go } = workerData;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + 65536) / 65536) });
    new Uint8Array(memory.buffer).fill(1);
    const probe = new WebAssembly.Instance(module, { env: { memory } }).exports;
    probe.read_sum(65536, bytes);
    const flag = new Int32Array(go);
    const times = [];
    for (let r = 1; r <= 5; r++) {
      Atomics.add(flag, 1, 1);
      while (Atomics.load(flag, 0) < r) Atomics.wait(flag, 0, r - 1, 50);
      const t = performance.now();
      probe.read_sum(65536, bytes);
      times.push(performance.now() - t);
    }
    parentPort.postMessage(times);`;
  const go = new SharedArrayBuffer(8);
  const flag = new Int32Array(go);
  const workers = Array.from({ length: threads }, () => new Worker(code, { eval: true, workerData: { module, bytes: BUFFER, go } }));
  const done = workers.map((w) => new Promise<number[]>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  for (let r = 1; r <= 5; r++) {
    while (Atomics.load(flag, 1) < threads * r) await new Promise((res) => setTimeout(res, 1));
    Atomics.store(flag, 0, r);
    Atomics.notify(flag, 0);
  }
  const times = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  const perRound = times[0].map((_, r) => Math.max(...times.map((t) => t[r])));
  return (threads * BUFFER) / (median(perRound) * 1e6);
}

export async function measureMachine(): Promise<MachineInfo> {
  const module = probeModule();
  const { probe } = instantiate(module, BUFFER);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memory_gb: totalmem() / 2 ** 30,
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()}`,
    relaxed_simd: RELAXED,
    f32_peak_gflops: peakGflops(probe),
    read_gb_s_1t: readGbS(probe),
    read_gb_s_2t: await readGbSThreads(module, 2),
  };
}

/** Read bandwidth at each thread count (`tsx bench/machine.ts --read-threads 1,2,4,8,16`: the inputs of the thread-scaling model in README.md). */
export async function readGbSAt(threadCounts: number[]): Promise<Record<number, number>> {
  const module = probeModule();
  const out: Record<number, number> = {};
  for (const n of threadCounts) out[n] = n === 1 ? readGbS(instantiate(module, BUFFER).probe) : await readGbSThreads(module, n);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--read-threads');
  console.log(at > 0 ? await readGbSAt(process.argv[at + 1].split(',').map(Number)) : await measureMachine());
}
