// The four shipped builds (SIMD128, relaxed SIMD, threads, threads + relaxed) are one source compiled
// four ways, and assembly/README.md promises that relaxed SIMD changes no result (the relaxed swizzle only
// ever sees indices below 16) and that the threads build computes as the single-thread one. So every
// kernel the runtime calls gives the same bits on all four, at awkward sizes (below), and so do the
// reference fixtures' logits on the fast and the exact path (the threads builds on 2 threads).
// Node 20 validates relaxed SIMD only behind a flag: it is set for this process when needed.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16 } from '../../src/format/dtype.js';
import { loadModel } from '../../src/model/model.js';
import type { Kernels } from '../../src/wasm/kernels.js';
import { convertFixture, FIXTURE_NAMES, readExpected } from '../util/fixtures.js';
import { Rng } from '../util/rng.js';
import { enableRelaxedSimd, WASM, WASM_BUILDS } from '../util/wasm.js';
import { bytesOf } from '../util/numeric.js';

type Build = keyof typeof WASM_BUILDS;
const BUILDS = Object.keys(WASM_BUILDS) as Build[];

beforeAll(() => {
  expect(enableRelaxedSimd()).toBe(true);
});

/** One build over a memory of its own, with a bump allocator and inputs drawn from a seeded Rng. */
class Arena {
  readonly k: Kernels;
  private readonly memory: WebAssembly.Memory;
  private next: number;
  private readonly rng: Rng;
  /** Every buffer handed out: what a case's outcome is read from. */
  readonly blocks: [number, number][] = [];
  /** Which of them are outputs (each must be written, at least in part). */
  readonly outputs: number[] = [];

  private constructor(k: Kernels, memory: WebAssembly.Memory, seed: number) {
    this.k = k;
    this.memory = memory;
    this.next = (k.heap_base() + 63) & ~63;
    this.rng = new Rng(seed);
  }

  static async of(build: Build, seed: number): Promise<Arena> {
    const shared = build.startsWith('threads');
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 256, shared });
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(WASM_BUILDS[build])), { env: { memory } });
    return new Arena(instance.exports as unknown as Kernels, memory, seed);
  }

  private alloc(bytes: number): number {
    const ptr = this.next;
    this.next += (Math.max(bytes, 1) + 63 + 64) & ~63; // a guard past every block
    this.blocks.push([ptr, bytes]);
    return ptr;
  }

  private put(data: Uint8Array): number {
    const ptr = this.alloc(data.length);
    new Uint8Array(this.memory.buffer, ptr, data.length).set(data);
    return ptr;
  }

  private bytesOf(a: Float32Array | Uint16Array | Int8Array | Uint8Array): Uint8Array {
    return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  }

  /** n f32 in [lo, hi). */
  f32(n: number, lo = -2, hi = 2): number {
    return this.put(this.bytesOf(this.rng.f32(n, () => this.rng.uniform(lo, hi))));
  }
  /** n f16 weights. */
  f16(n: number): number {
    return this.put(this.bytesOf(new Uint16Array(n).map(() => f32ToF16(this.rng.uniform(-1, 1)))));
  }
  /** n bf16 values in [lo, hi). */
  bf16(n: number, lo = -1, hi = 1): number {
    return this.put(this.bytesOf(new Uint16Array(n + 1).map(() => f32ToBf16(this.rng.uniform(lo, hi)))));
  }
  /** n random bytes (packed signs, int8 weights, 4-bit groups). */
  bytes(n: number): number {
    return this.put(new Uint8Array(n).map(() => this.rng.int(0, 256)));
  }
  /** Scratch of `bytes`, filled with one pattern. */
  scratch(bytes: number): number {
    const ptr = this.alloc(bytes);
    new Uint8Array(this.memory.buffer, ptr, bytes).fill(FILL);
    return ptr;
  }
  /** An output of `bytes`, filled with the same pattern. */
  out(bytes: number): number {
    this.outputs.push(this.blocks.length);
    return this.scratch(bytes);
  }

  /** Every block's bytes, in order: inputs, outputs, scratch, updated states. */
  contents(): Uint8Array[] {
    return this.blocks.map(([ptr, n]) => new Uint8Array(this.memory.buffer, ptr, n).slice());
  }
}

/** A case: calls over the arena's buffers; what they return is part of the outcome. */
type Case = (a: Arena) => unknown[];

const F = 4;
const FILL = 0x5a;
/** Projection shapes: one decoding token; 17 tokens (a batch of 16 and one more) of more than a 256-column block. */
const PROJECTIONS = [[1, 37, 45], [17, 50, 300]] as const;

const CASES: Record<string, Case> = {};
const add = (name: string, kernels: (keyof Kernels)[], c: Case) => { CASES[name] = c; COVERS.push(...kernels); };
const COVERS: (keyof Kernels)[] = ['heap_base'];

for (const [T, N, K] of PROJECTIONS) {
  const xs = K + 3; // x a view into wider rows
  const shape = `T=${T} N=${N} K=${K}`;
  const Np = Math.ceil(N / 16) * 16, Kp = Math.ceil(K / 8) * 8, G = Math.ceil(K / 32);
  add(`1-bit exact ${shape}`, ['onebit_scratch_bytes', 'onebit_prepare', 'onebit_rows'], (a) => {
    const x = a.f32(T * xs), alpha = a.f32(K, 0.1, 1.5), beta = a.f32(K, -0.2, 0.2), bits = a.bytes((Np * Kp) / 8), y = a.out(F * T * N);
    const scratch = a.scratch(a.k.onebit_scratch_bytes(K, T));
    a.k.onebit_prepare(scratch, x, alpha, beta, T, K, xs);
    a.k.onebit_rows(y, scratch, bits, T, N, K, 16, N);
    a.k.onebit_rows(y, scratch, bits, T, N, K, 0, 16);
    return [a.k.onebit_scratch_bytes(K, T)];
  });
  add(`1-bit fast ${shape}`, ['onebit_fast_scratch_bytes', 'onebit_fast_prepare', 'onebit_fast_rows'], (a) => {
    const x = a.f32(T * xs), alpha = a.f32(K, 0.1, 1.5), beta = a.f32(K, -0.2, 0.2), bits = a.bytes((Np * Kp) / 8), y = a.out(F * T * N);
    const scratch = a.scratch(a.k.onebit_fast_scratch_bytes(K, T));
    a.k.onebit_fast_prepare(scratch, x, alpha, beta, T, K, xs);
    a.k.onebit_fast_rows(y, scratch, bits, T, N, K, 0, N);
    return [a.k.onebit_fast_scratch_bytes(K, T)];
  });
  add(`1-bit fast, 8-bit tables ${shape}`, ['onebit_fast8_scratch_bytes', 'onebit_fast8_prepare', 'onebit_fast8_rows'], (a) => {
    const x = a.f32(T * xs), alpha = a.f32(K, 0.1, 1.5), beta = a.f32(K, -0.2, 0.2), bits = a.bytes((Np * Kp) / 8), y = a.out(F * T * N);
    const scratch = a.scratch(a.k.onebit_fast8_scratch_bytes(K, T));
    a.k.onebit_fast8_prepare(scratch, x, alpha, beta, T, K, xs);
    a.k.onebit_fast8_rows(y, scratch, bits, T, N, K, 16, N);
    a.k.onebit_fast8_rows(y, scratch, bits, T, N, K, 0, 16);
    return [a.k.onebit_fast8_scratch_bytes(K, T)];
  });
  add(`dense ${shape}`, ['f32_rows', 'f16_rows', 'i8_rows', 'q4_rows', 'add_bias'], (a) => {
    const x = a.f32(T * xs), scale = a.f32(N, 0.001, 0.05), bias = a.f32(N);
    const wf = a.f32(N * K), wh = a.f16(N * K), wi = a.bytes(N * K), wq = a.bytes(N * G * 16), sq = a.bf16(N * G, -0.02, 0.02);
    const y = [a.out(F * T * N), a.out(F * T * N), a.out(F * T * N), a.out(F * T * N)];
    a.k.f32_rows(y[0], x, wf, T, N, K, xs, 0, N);
    a.k.f16_rows(y[1], x, wh, T, N, K, xs, 4, N);
    a.k.i8_rows(y[2], x, wi, scale, T, N, K, xs, 0, N);
    a.k.q4_rows(y[3], x, wq, sq, T, N, K, xs, 0, N);
    a.k.add_bias(y[0], bias, T, N);
    return [];
  });
  add(`16-bit activations ${shape}`, ['i8_fast_scratch_bytes', 'i8_fast_prepare', 'i8_fast_rows', 'q4_fast_rows'], (a) => {
    const x = a.f32(T * xs), scale = a.f32(N, 0.001, 0.05), wi = a.bytes(N * K), wq = a.bytes(N * G * 16), sq = a.bf16(N * G, -0.02, 0.02);
    const scratch = a.scratch(a.k.i8_fast_scratch_bytes(K, T));
    const yi = a.out(F * T * N), yq = a.out(F * T * N);
    a.k.i8_fast_prepare(scratch, x, T, K, xs);
    a.k.i8_fast_rows(yi, scratch, wi, scale, T, N, K, 0, N);
    a.k.q4_fast_rows(yq, scratch, wq, sq, T, N, K, 0, N);
    return [a.k.i8_fast_scratch_bytes(K, T)];
  });
}

add('rows of the embedding', ['f16_row_to_f32', 'i8_row_to_f32', 'q4_row_to_f32'], (a) => {
  const n = 77, G = Math.ceil(n / 32);
  const h = a.f16(n), i = a.bytes(n), q = a.bytes(G * 16), s = a.bf16(G);
  const y = [a.out(F * n), a.out(F * n), a.out(F * n)];
  a.k.f16_row_to_f32(y[0], h, n);
  a.k.i8_row_to_f32(y[1], i, 0.013, n);
  a.k.q4_row_to_f32(y[2], q, s, n);
  return [];
});

add('elementwise', ['add', 'softplus', 'mul_silu', 'rmsnorm', 'gated_rmsnorm_tokens', 'argmax'], (a) => {
  const T = 3, width = 37, n = T * width;
  const x = a.f32(n, -30, 30), z = a.f32(T * (width + 2), -10, 10), w = a.f32(width);
  const y = [a.out(F * n), a.out(F * n), a.out(F * n), a.out(F * n), a.out(F * n)];
  a.k.add(y[0], x, z, n);
  a.k.softplus(y[1], x, n);
  a.k.mul_silu(y[2], x, z, T, width, width + 2);
  a.k.rmsnorm(y[3], x, w, T, width, 1e-5);
  a.k.gated_rmsnorm_tokens(y[4], x, z, w, T, width, 8, 1e-5, width + 2, 1, T);
  return [a.k.argmax(x, n), a.k.argmax(y[1], n)];
});

add('conv', ['conv1d_channels'], (a) => {
  const T = 5, channels = 11, W = 4, xs = 13;
  const x = a.f32(T * xs), state = a.f32(channels * (W - 1)), w = a.f32(channels * W), b = a.f32(channels), y = a.out(F * T * channels);
  a.k.conv1d_channels(y, x, state, w, b, T, channels, W, xs, 1, 4, channels);
  a.k.conv1d_channels(y, x, state, w, b, T, channels, W, xs, 0, 0, 4);
  return [];
});

for (const T of [1, 3]) {
  add(`Mamba-1 scan T=${T}`, ['scan1_channels', 'scan1_channels_bf16'], (a) => {
    const channels = 10, S = 5, bcs = S + 2;
    const x = a.f32(T * channels), dt = a.f32(T * channels, 0.001, 0.2), A = a.f32(channels * S, -3, -0.1);
    const B = a.f32(T * bcs), C = a.f32(T * bcs), D = a.f32(channels);
    const h = a.f32(channels * S), hb = a.bf16(channels * S), wide = a.scratch(F * channels * S);
    const y = [a.out(F * T * channels), a.out(F * T * channels)];
    a.k.scan1_channels(y[0], x, dt, A, B, C, D, h, T, channels, S, bcs, 0, channels);
    a.k.scan1_channels_bf16(y[1], x, dt, A, B, C, D, hb, T, channels, S, bcs, wide, 4, channels);
    return [];
  });
}

for (const T of [1, 3]) {
  add(`Mamba-2 heads (conv, time step, scan) T=${T}`, ['ssd2_heads', 'ssd2_heads_bf16'], (a) => {
    const H = 4, P = 5, S = 6, G = 2, W = 4, convDim = H * P + 2 * G * S, inStride = convDim + H + 3;
    const proj = a.f32(T * inStride), dtIn = proj + F * convDim, convW = a.f32(convDim * W), convB = a.f32(convDim);
    const state = [a.f32(convDim * (W - 1)), a.f32(convDim * (W - 1))];
    const dtBias = a.f32(H), A = a.f32(H, -3, -0.1), D = a.f32(H), h = a.f32(H * P * S), hb = a.bf16(H * P * S), wide = a.scratch(F * H * P * S);
    const conv = [a.out(F * T * convDim), a.out(F * T * convDim)], dt = [a.out(F * T * H), a.out(F * T * H)], y = [a.out(F * T * H * P), a.out(F * T * H * P)];
    for (const i of [0, 1]) a.k.conv1d_channels(conv[i], proj, state[i], convW, convB, T, convDim, W, inStride, 1, H * P, convDim);
    a.k.ssd2_heads(y[0], conv[0], proj, state[0], convW, convB, dt[0], dtIn, dtBias, A, D, h, T, H, P, S, G, W, inStride, 0.001, 0.1, 0, H);
    a.k.ssd2_heads_bf16(y[1], conv[1], proj, state[1], convW, convB, dt[1], dtIn, dtBias, A, D, hb, T, H, P, S, G, W, inStride, 0, Infinity, wide, 1, H);
    return [];
  });
}

describe('the four builds', () => {
  it('the sweep covers every kernel the runtime calls', () => {
    const typed = readFileSync(new URL('../../src/wasm/kernels.ts', import.meta.url), 'utf8');
    const names = [...typed.matchAll(/^\s*(\w+)\(/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(25);
    expect([...new Set(COVERS)].sort()).toEqual([...new Set(names)].sort());
  });

  for (const [name, run] of Object.entries(CASES)) {
    it(`${name}: the same bits on every build`, async () => {
      const outcomes: { returned: unknown[]; memory: Uint8Array[] }[] = [];
      let outputs: number[] = [];
      for (const build of BUILDS) {
        const arena = await Arena.of(build, name.length * 7919);
        const returned = run(arena);
        outcomes.push({ returned, memory: arena.contents() });
        outputs = arena.outputs;
      }
      const [release, ...others] = outcomes;
      // every output was written (compared below, it must not be just the fill pattern on every build)
      for (const j of outputs) expect(release.memory[j].some((v) => v !== FILL), `output block ${j}`).toBe(true);
      others.forEach((o, i) => {
        expect(o.returned, BUILDS[i + 1]).toEqual(release.returned);
        o.memory.forEach((block, j) => expect(Buffer.from(block).equals(Buffer.from(release.memory[j])), `${BUILDS[i + 1]}: block ${j}`).toBe(true));
      });
    });
  }

  describe.each(FIXTURE_NAMES)('%s', (fixture) => {
    for (const exact of [false, true]) {
      it(`logits on the ${exact ? 'exact' : 'fast'} path: the same bits on every build`, async () => {
        const e = readExpected(fixture);
        const path = await convertFixture(fixture, { head: 'int8' });
        const logits: Float32Array[] = [];
        for (const build of BUILDS) {
          const threaded = build.startsWith('threads');
          // the threads builds over shared memory with a pool of 2 (the tiny fixtures' calls are too small to split: the build's kernels run on this thread)
          const model = await loadModel(path, threaded ? { wasm: WASM, wasmThreads: WASM_BUILDS[build], threads: 2, exact } : { wasm: WASM_BUILDS[build], threads: 1, exact });
          expect(model.threads).toBe(threaded ? 2 : 1);
          logits.push(model.logits(e.inputIds));
          model.dispose();
        }
        for (let i = 1; i < logits.length; i++) expect(bytesOf(logits[i]).equals(bytesOf(logits[0])), BUILDS[i]).toBe(true);
        expect(logits[0].every(Number.isFinite)).toBe(true);
      });
    }
  });
});
