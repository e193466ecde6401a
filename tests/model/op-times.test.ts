// LoadOptions.opTimes (the bench's per-kernel breakdown) times every operation of the graph and changes
// nothing it computes: an operation's result (argmax's index) passes through, so greedy decoding gives
// the same tokens timed or not.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { convertFixture, readExpected } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

describe('opTimes', () => {
  it('times every operation, and greedy decoding gives the same tokens as untimed', async () => {
    const e = readExpected('bimamba-tiny');
    const path = await convertFixture('bimamba-tiny');
    const opTimes = new Map<string, number>();
    const timed = await loadModel(path, { wasm: WASM, opTimes });
    const plain = await loadModel(path, { wasm: WASM });
    const options = { temperature: 0, maxTokens: 8, stopAtEos: false } as const;
    const a = await timed.complete(e.greedyPrompt, options);
    const b = await plain.complete(e.greedyPrompt, options);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens.length).toBe(8);
    for (const op of ['argmax', 'rmsnorm', 'ssd2']) expect(opTimes.get(op), op).toBeGreaterThanOrEqual(0);
    expect([...opTimes.keys()].some((k) => k.startsWith('linear onebit '))).toBe(true);
    timed.dispose();
    plain.dispose();
  });
});
