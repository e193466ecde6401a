// Prompts read in the batcher's steps, with the other completions' decoding tokens and prompt pieces
// (src/server/batcher.ts): every request gets the tokens and logprobs it gets alone, bit for bit, with the
// prompt cache on and off; a long prompt moves on piece by piece while a stream keeps decoding, token
// by token; a client that goes away mid-prompt frees its seat and its turn. The model reads 32 tokens a
// forward call here, so the prompts below run past one call and past a feed slice (256).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { feedCuts, feedInCuts, feedPieces } from '../../src/chat/feed.js';
import { Session } from '../../src/model/session.js';
import { createApp, type AppOptions } from '../../src/server/app.js';
import { DecodeBatcher } from '../../src/server/batcher.js';
import { MemoryStore } from '../../src/server/store.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';
import { bytesOf } from '../util/numeric.js';

const ROWS = 32;
const feedPartsOriginal = Session.feedParts.bind(Session);
let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL, prefillChunk: ROWS });
});
afterAll(() => model?.dispose());

type App = ReturnType<typeof createApp>;
const post = async (app: App, body: Record<string, unknown>, init: RequestInit = {}): Promise<Response> =>
  app.fetch(new Request('http://local/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'default', ...body }), ...init }));
const health = async (app: App) => (await app.fetch(new Request('http://local/health'))).json() as Promise<{ running: number; waiting: number }>;

/** Prompt i: `n` token ids of its own. */
const promptOf = (i: number, n: number) => Array.from({ length: n }, (_, t) => 3 + ((i * 7919 + t * 104729) % (model.vocabSize - 3)));

interface Answer {
  text: string;
  logprobs: number[];
  cached: number;
}

async function complete(app: App, prompt: number[], maxTokens: number): Promise<Answer> {
  const r = await post(app, { prompt, max_tokens: maxTokens, temperature: 0, logprobs: 0 });
  expect(r.status).toBe(200);
  const body = await r.json() as { choices: Array<{ text: string; logprobs: { token_logprobs: number[] } }>; usage: { prompt_tokens_details?: { cached_tokens: number } } };
  return { text: body.choices[0].text, logprobs: body.choices[0].logprobs.token_logprobs, cached: body.usage.prompt_tokens_details?.cached_tokens ?? 0 };
}

// under one call, one call exactly, just past it, a feed slice and a bit, two slices and a bit
const LENGTHS = [5, 32, 33, 70, 257, 300, 530];
const TOKENS = 8;

describe('prompts read in the shared steps', () => {
  it('concurrent requests of different prompt lengths each get their solo tokens and logprobs, prompt cache off and on', async () => {
    const prompts = LENGTHS.map((n, i) => promptOf(i, n));
    const longer = prompts.map((p, i) => [...p, ...promptOf(100 + i, 20)]); // a cached prefix, then more to feed
    const solo: Answer[] = [];
    for (const p of [...prompts, ...longer]) solo.push(await complete(createApp({ model, promptCache: null } as AppOptions), p, TOKENS));
    const calls = vi.spyOn(Session, 'feedParts');
    try {
      for (const promptCache of [null, new MemoryStore(64 * 1024 * 1024)]) {
        const app = createApp({ model, promptCache, maxActive: prompts.length } as AppOptions);
        // with the cache on, the second round restores the prompts whole, the third their cached cuts and feeds the rest
        for (const round of [0, 1, 2]) {
          const asked = round < 2 ? prompts : longer;
          const answers = await Promise.all(asked.map((p) => complete(app, p, TOKENS)));
          answers.forEach((a, i) => {
            const what = `prompt of ${asked[i].length}, cache ${promptCache ? 'on' : 'off'}, round ${round}`;
            const alone = solo[(round < 2 ? 0 : prompts.length) + i];
            expect(a.text, what).toBe(alone.text);
            expect(a.logprobs, what).toEqual(alone.logprobs);
          });
          if (!promptCache || round === 0) expect(answers.every((a) => a.cached === 0)).toBe(true);
          else if (round === 1) expect(answers.map((a) => a.cached)).toEqual(LENGTHS);
          else expect(answers.map((a) => a.cached)).toEqual(LENGTHS.map((n) => (n > 256 ? Math.floor((n - 1) / 256) * 256 : 0)));
        }
      }
      // the steps did mix: a call held one session's prompt piece next to other sessions' rows
      const mixed = calls.mock.calls.filter(([parts]) => new Set(parts.map((p) => p.session)).size > 1 && parts.some((p) => p.tokens.length > 1));
      expect(mixed.length).toBeGreaterThan(0);
      expect(Math.max(...calls.mock.calls.map(([parts]) => parts.reduce((n, p) => n + p.tokens.length, 0)))).toBeLessThanOrEqual(ROWS);
    } finally {
      calls.mockRestore();
    }
  });

  it('a long prompt does not hold a decoding stream up: one of its pieces a step, a token between any two', async () => {
    const batcher = new DecodeBatcher();
    const decoder = model.createSession();
    decoder.feed(promptOf(1, 9));
    const decoderAlone = decoder.fork();
    const reader = model.createSession();
    const ids = promptOf(2, 600);
    const cuts = feedCuts(ids.length, []);
    const pieces = feedPieces(cuts, 0, ROWS);
    expect(pieces.length).toBe(19); // 8 + 8 + 3 pieces: cuts at 256, 512 and 600
    const order: string[] = [];
    const calls = vi.spyOn(Session, 'feedParts').mockImplementation((parts) => {
      order.push(parts.map((p) => (p.session === decoder ? 'token' : 'piece')).join(' '));
      feedPartsOriginal(parts);
    });
    try {
      const seatA = batcher.seat(new AbortController().signal);
      const seatB = batcher.seat(new AbortController().signal);
      let reading = true;
      let tokensDuringPrompt = 0;
      const decoding = (async () => {
        let token = decoder.argmax(decoder.samplingLogits(model.vocabSize, false));
        for (let i = 0; i < 100 && reading; i++) {
          await seatA.feed(decoder, token);
          decoderAlone.feed([token]);
          expect(bytesOf(decoder.lastLogits()).equals(bytesOf(decoderAlone.lastLogits())), `token ${i}`).toBe(true);
          if (reading) tokensDuringPrompt++;
          token = decoder.argmax(decoder.samplingLogits(model.vocabSize, false));
        }
      })();
      await Promise.resolve(); // the stream has its first token waiting: it is running when the prompt comes
      const ms = await seatB.feedPrompt(reader, ids, pieces);
      reading = false;
      await decoding;
      expect(ms).toBeGreaterThan(0); // the stream's rows of the steps it waited through: not its client's to pay
      // the prompt's state is that of one session fed alone, cut by cut
      const alone = model.createSession();
      await feedInCuts(alone, ids, cuts, 0);
      expect(bytesOf(reader.snapshot()).equals(bytesOf(alone.snapshot()))).toBe(true);
      // the stream got a token in every step, between any two of the prompt's pieces
      const withPiece = order.map((o, i) => (o.includes('piece') ? i : -1)).filter((i) => i >= 0);
      expect(withPiece.length).toBe(pieces.length); // a 32-row piece never fits next to a token: one a call (the last, 24, does)
      expect(order[withPiece.at(-1)!]).toBe('token piece');
      for (let k = 1; k < withPiece.length; k++) expect(order.slice(withPiece[k - 1] + 1, withPiece[k] + 1).join(' '), `between pieces ${k - 1} and ${k}`).toContain('token');
      expect(tokensDuringPrompt).toBeGreaterThanOrEqual(pieces.length - 1);
      seatA.leave();
      seatB.leave();
      for (const s of [decoder, decoderAlone, reader, alone]) s.dispose();
    } finally {
      calls.mockRestore();
    }
  });

  it('a client that goes away mid-prompt leaves at once: its seat and its turn are free, nothing more of it is fed', async () => {
    const app = createApp({ model, maxActive: 1, promptCache: null } as AppOptions);
    const gone = new AbortController();
    const ids = promptOf(3, 3000);
    let rowsFed = 0;
    const calls = vi.spyOn(Session, 'feedParts');
    calls.mockImplementation((parts) => {
      feedPartsOriginal(parts);
      rowsFed += parts.reduce((n, p) => n + p.tokens.length, 0);
      if (rowsFed >= 3 * ROWS && !gone.signal.aborted) setTimeout(() => gone.abort()); // a few pieces in, between two steps
    });
    try {
      const r = await post(app, { prompt: ids, max_tokens: 4, temperature: 0, stream: true }, { signal: gone.signal }).catch((e: unknown) => e);
      if (r instanceof Response) await r.body?.cancel().catch(() => {});
      await vi.waitFor(async () => expect(await health(app)).toMatchObject({ running: 0, waiting: 0 }));
      const fedThen = rowsFed;
      expect(fedThen).toBeLessThan(ids.length / 2);
      // the one turn is free and the batcher holds nothing of the gone request: the next one feeds what it feeds alone
      const next = await complete(app, promptOf(4, 40), TOKENS);
      const nextRows = rowsFed - fedThen;
      const solo = await complete(createApp({ model, promptCache: null } as AppOptions), promptOf(4, 40), TOKENS);
      expect(next).toEqual(solo);
      expect(nextRows).toBe(rowsFed - fedThen - nextRows);
    } finally {
      calls.mockRestore();
    }
  });
});
