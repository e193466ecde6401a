// Short answers first (src/server/batcher.ts): a generation past its first LONG_TOKENS tokens joins only
// every other step while a younger one has a token waiting, so a long stream (a client asking for
// thousands of tokens, or a stalled reader whose socket buffers them) costs the short requests beside it
// half its rows (#27's load: stalled readers were the most of what slowed normal clients). Both still
// get, bit for bit, the logits they get alone.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { Session } from '../../src/model/session.js';
import { DecodeBatcher, LONG_TOKENS } from '../../src/server/batcher.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';
import { bytesOf } from '../util/numeric.js';

const feedPartsOriginal = Session.feedParts.bind(Session);
let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());


/** Decode greedily through `seat` while `more()` holds, checking each token's logits against a twin fed alone. */
async function decode(seat: ReturnType<DecodeBatcher['seat']>, session: Session, more: (fed: number) => boolean): Promise<number> {
  const alone = session.fork();
  let fed = 0;
  try {
    while (more(fed)) {
      const token = session.argmax(session.samplingLogits(model.vocabSize, false));
      await seat.feed(session, token);
      alone.feed([token]);
      fed++;
      expect(bytesOf(session.lastLogits()).equals(bytesOf(alone.lastLogits())), `token ${fed}`).toBe(true);
    }
  } finally {
    alone.dispose();
    seat.leave();
  }
  return fed;
}

describe('short answers first', () => {
  it('a long generation joins every other step while a younger one decodes, and every step once alone again', async () => {
    const batcher = new DecodeBatcher();
    const long = model.createSession();
    const young = model.createSession();
    long.feed([5, 6, 7]);
    young.feed([8, 9]);
    const order: string[] = []; // per forward call: the sessions it fed
    const calls = vi.spyOn(Session, 'feedParts').mockImplementation((parts) => {
      order.push(parts.map((p) => (p.session === long ? 'L' : 'Y')).sort().join(''));
      feedPartsOriginal(parts);
    });
    try {
      const YOUNG_TOKENS = 40;
      let youngStarted: Promise<number> | null = null;
      let youngDone = false;
      let startedAt = -1;
      let endedAt = -1;
      const longFed = decode(batcher.seat(new AbortController().signal), long, (fed) => {
        if (fed === LONG_TOKENS + 10 && !youngStarted) {
          startedAt = order.length;
          youngStarted = decode(batcher.seat(new AbortController().signal), young, (n) => n < YOUNG_TOKENS).then((n) => {
            youngDone = true;
            endedAt = order.length;
            return n;
          });
        }
        return !youngDone || fed < LONG_TOKENS + 80;
      });
      expect(await longFed).toBeGreaterThanOrEqual(LONG_TOKENS + 80);
      expect(await youngStarted).toBe(YOUNG_TOKENS);
      // before: the long one alone, in every call (it was young, then long with no one younger)
      expect(order.slice(0, startedAt).every((o) => o === 'L')).toBe(true);
      // beside the young one: the young one in every call, the long one in every other
      const beside = order.slice(startedAt, endedAt);
      expect(beside.length).toBeGreaterThanOrEqual(YOUNG_TOKENS);
      expect(beside.every((o) => o.includes('Y'))).toBe(true);
      const withLong = beside.filter((o) => o === 'LY').length;
      expect(withLong).toBeGreaterThanOrEqual(Math.floor(YOUNG_TOKENS / 2) - 1); // it still moves on
      expect(withLong).toBeLessThanOrEqual(Math.ceil(beside.length / 2));
      for (let i = 1; i < beside.length; i++) expect(beside[i - 1] === 'LY' && beside[i] === 'LY', `calls ${i - 1} and ${i}`).toBe(false);
      // after: alone again, in every call
      expect(order.slice(endedAt).every((o) => o === 'L')).toBe(true);
      expect(order.length - endedAt).toBeGreaterThan(10);
    } finally {
      calls.mockRestore();
      long.dispose();
      young.dispose();
    }
  });

  it('young generations all join every step', async () => {
    const batcher = new DecodeBatcher();
    const sessions = [model.createSession(), model.createSession(), model.createSession()];
    sessions.forEach((s, i) => s.feed([3 + i, 4 + i]));
    const rows: number[] = [];
    const calls = vi.spyOn(Session, 'feedParts').mockImplementation((parts) => {
      rows.push(parts.length);
      feedPartsOriginal(parts);
    });
    try {
      const fed = await Promise.all(sessions.map((s) => decode(batcher.seat(new AbortController().signal), s, (n) => n < 30)));
      expect(fed).toEqual([30, 30, 30]);
      expect(rows.filter((n) => n === 3).length).toBeGreaterThanOrEqual(28);
    } finally {
      calls.mockRestore();
      for (const s of sessions) s.dispose();
    }
  });
});
