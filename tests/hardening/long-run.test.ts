// Long and wide: a 10,000-token generation runs in constant memory, and 50 sessions generating at
// once on one model each give exactly the tokens they give alone.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GeneratedToken } from '../../src/generate/generate.js';
import { Rng } from '../../src/generate/rng.js';
import { byteTokenizerJson, convertFixture, loadWithByteTokenizer } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

describe('long and wide', () => {
  it('10,000 tokens: WASM memory unchanged after the first tokens, JS heap flat (sampling, penalty, text decoding)', async () => {
    const tok = join(tmpdir(), `bimamba-long-tokenizer-${process.pid}.json`);
    writeFileSync(tok, byteTokenizerJson());
    const path = await convertFixture('bimamba-tiny', { tokenizer: tok });
    const probe = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe, 'long', path, WASM], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { tokens, wasmBytes, heapUsed } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(tokens).toBe(10_000);
    expect(wasmBytes).toHaveLength(11); // after 10 tokens, then every 1,000
    expect(new Set(wasmBytes).size).toBe(1);
    // after a full GC the heap may wander by garbage-collector noise, not grow with the tokens:
    // a leak of 400 bytes a token would show as 4 MB
    const settled = heapUsed.slice(1);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThan(4 * 1024 * 1024);
    expect(settled[settled.length - 1] - settled[0]).toBeLessThan(2 * 1024 * 1024);
  });

  it('50 sessions interleaved on one model each produce the tokens they produce alone', async () => {
    const model = await loadWithByteTokenizer();
    const prompts = Array.from({ length: 50 }, (_, i) => `prompt ${i}: ${'abcdefgh'.slice(i % 8)}${i * 7919}`);
    const options = (i: number) => ({ maxTokens: 20, seed: 1000 + i, temperature: i % 5 === 0 ? 0 : 0.9, topK: i % 3 === 0 ? 0 : 40, repetitionPenalty: 1 + (i % 4) * 0.1, stopAtEos: false });

    const alone: number[][] = [];
    for (let i = 0; i < 50; i++) {
      const tokens: number[] = [];
      for await (const { token } of model.generate(prompts[i], options(i))) tokens.push(token);
      alone.push(tokens);
    }
    expect(new Set(alone.map((t) => t.join())).size).toBeGreaterThan(40); // the runs really differ

    // all 50 generators open at once, advanced one step at a time in a random order
    const generators = prompts.map((p, i) => model.generate(p, options(i)));
    const together: number[][] = prompts.map(() => []);
    const open = new Set(generators.keys());
    const rng = new Rng(77);
    while (open.size > 0) {
      const pick = [...open][Math.floor(rng.next() * open.size)];
      const step: IteratorResult<GeneratedToken> = await generators[pick].next();
      if (step.done) open.delete(pick);
      else together[pick].push(step.value.token);
    }
    expect(together).toEqual(alone);

    // and the same through Promise.all, the way a server would run them
    const viaAll = await Promise.all(prompts.map(async (p, i) => {
      const tokens: number[] = [];
      for await (const { token } of model.generate(p, options(i))) tokens.push(token);
      return tokens;
    }));
    expect(viaAll).toEqual(alone);
    model.dispose();
  });
});
