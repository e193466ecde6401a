// Session.feedBatch (what a server's decoding step runs): one token of each of several sessions in one
// forward pass gives every session the logits and the state it gets fed alone, bit for bit, on the fast
// and the exact kernels, in batches of 16 tokens (the 1-bit kernels' batch path), padded to 16 and not,
// and past the prefill chunk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/model/model.js';
import { Session } from '../../src/model/session.js';
import { thrownBy } from '../util/errors.js';
import { convertFixture, FIXTURE_NAMES } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { bytesOf } from '../util/numeric.js';

const SESSIONS = 37; // with a prefill chunk of 32: a pass of 32 rows (two 1-bit batches of 16), then one of 5
const STEPS = 6;


function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Session i fed a prompt of its own (lengths 1..8, so the sessions sit at different positions). */
function primed(model: Model, i: number): Session {
  const s = model.createSession();
  s.feed(Array.from({ length: 1 + (i % 8) }, (_, t) => (7 + 31 * i + 13 * t) % model.vocabSize));
  return s;
}

describe.each(FIXTURE_NAMES.flatMap((name) => [{ name, exact: false }, { name, exact: true }]))('$name (exact: $exact)', ({ name, exact }) => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(await convertFixture(name), { wasm: WASM, exact, prefillChunk: 32 });
  });
  afterAll(() => model?.dispose());

  it.each([SESSIONS, 12])('%i sessions each get their solo logits and state, bit for bit, step after step', (count) => {
    const batched = Array.from({ length: count }, (_, i) => primed(model, i));
    const solo = batched.map((s) => s.fork());
    let tokens = batched.map((s) => argmax(s.lastLogits()));
    for (let step = 0; step < STEPS; step++) {
      Session.feedBatch(batched, tokens);
      const alone = solo.map((s, i) => s.feed([tokens[i]]));
      const together = batched.map((s) => s.lastLogits());
      for (let i = 0; i < count; i++) expect(bytesOf(together[i]).equals(bytesOf(alone[i])), `session ${i}, step ${step}`).toBe(true);
      tokens = together.map(argmax); // greedy: each session follows its own text
    }
    for (let i = 0; i < count; i++) {
      expect(batched[i].tokensSeen).toBe(solo[i].tokensSeen);
      expect(bytesOf(batched[i].snapshot()).equals(bytesOf(solo[i].snapshot())), `session ${i}'s state`).toBe(true);
    }
    for (const s of [...batched, ...solo]) s.dispose();
  });

  it('prompt pieces and decoding tokens of several sessions in one call (feedParts) give each its solo logits and state', () => {
    // the pieces feed() cuts a prompt into, sharing calls with other sessions' tokens: the head only for
    // the rows that want logits, scattered over the call
    const prompts = [40, 7, 32, 65, 1].map((n, i) => Array.from({ length: n }, (_, t) => (11 + 17 * i + 29 * t) % model.vocabSize));
    const decoding = Array.from({ length: 3 }, (_, i) => primed(model, i));
    const readers = prompts.map(() => model.createSession());
    const soloDecoding = decoding.map((s) => s.fork());
    const soloReaders = prompts.map((p) => {
      const s = model.createSession();
      s.feed(p);
      return s;
    });
    const pieces = prompts.map((p) => Array.from({ length: Math.ceil(p.length / 32) }, (_, k) => p.slice(32 * k, 32 * (k + 1))));
    let tokens = decoding.map((s) => argmax(s.lastLogits()));
    for (let step = 0; pieces.some((p) => p.length > 0); step++) {
      // each step: the decoding tokens, then whole pieces while they fit the 32 rows, then a call of its own for a piece left out
      const calls: Array<Array<{ session: Session; tokens: number[]; logits: boolean }>> = [decoding.map((s, i) => ({ session: s, tokens: [tokens[i]], logits: true }))];
      let rows = decoding.length;
      pieces.forEach((p, i) => {
        if (p.length === 0) return;
        if (rows + p[0].length > 32) {
          calls.push([]);
          rows = 0;
        }
        rows += p[0].length;
        calls.at(-1)!.push({ session: readers[i], tokens: p.shift()!, logits: p.length === 0 });
      });
      for (const parts of calls) Session.feedParts(parts);
      const alone = soloDecoding.map((s, i) => s.feed([tokens[i]]));
      decoding.forEach((s, i) => expect(bytesOf(s.lastLogits()).equals(bytesOf(alone[i])), `decoding session ${i}, step ${step}`).toBe(true));
      tokens = alone.map(argmax);
    }
    readers.forEach((s, i) => {
      expect(s.tokensSeen).toBe(prompts[i].length);
      expect(bytesOf(s.snapshot()).equals(bytesOf(soloReaders[i].snapshot())), `prompt ${i}'s state and logits`).toBe(true);
    });
    for (const s of [...decoding, ...soloDecoding, ...readers, ...soloReaders]) s.dispose();
  });

  it('feedParts refuses more rows than one call takes, and parts without tokens', () => {
    const a = primed(model, 1);
    expect(thrownBy(() => Session.feedParts([{ session: a, tokens: Array(33).fill(1), logits: true }])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedParts([{ session: a, tokens: [], logits: true }])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedParts([])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedParts([{ session: a, tokens: [model.vocabSize], logits: true }])).code).toBe('BAD_TOKEN');
    a.dispose();
  });

  it('refuses what would mix sessions up, before feeding any', () => {
    const [a, b] = [primed(model, 1), primed(model, 2)];
    const before = [bytesOf(a.snapshot().slice()), bytesOf(b.snapshot().slice())];
    expect(thrownBy(() => Session.feedBatch([a, a], [1, 2])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedBatch([a, b], [1])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedBatch([], [])).code).toBe('BAD_ARGUMENT');
    expect(thrownBy(() => Session.feedBatch([a, b], [1, model.vocabSize])).code).toBe('BAD_TOKEN');
    const gone = primed(model, 3);
    gone.dispose();
    expect(thrownBy(() => Session.feedBatch([a, gone], [1, 2])).code).toBe('DISPOSED');
    expect(bytesOf(a.snapshot()).equals(before[0])).toBe(true);
    expect(bytesOf(b.snapshot()).equals(before[1])).toBe(true);
    a.dispose();
    b.dispose();
  });
});

it("refuses another model's session", async () => {
  const path = await convertFixture('mamba2-tiny-hf');
  const [m1, m2] = [await loadModel(path, { wasm: WASM }), await loadModel(path, { wasm: WASM })];
  expect(thrownBy(() => Session.feedBatch([m1.createSession(), m2.createSession()], [1, 2])).code).toBe('BAD_ARGUMENT');
  m1.dispose();
  m2.dispose();
});
