// Steps of concurrent completions, batched (server-internal), as llama.cpp's server fills one batch with
// every running slot's next token and then the prompts waiting to be read. Each completion has a seat.
// Its prompt goes in as pieces (feedPrompt: exactly the pieces feeding it alone makes, src/chat/feed.ts);
// once it generates, each sampled token is handed to the seat (feed). A step packs, into forward calls
// of at most the model's prefill chunk of rows (Session.feedParts):
//
//   1. every waiting decoding token (one row each), so running streams never stall behind a prompt;
//   2. then prompt pieces, first come first served: each prompt its next pieces while they fit whole
//      (a piece is never split: its state is rounded where feeding alone rounds it);
//   3. if the oldest prompt got no piece in, one more call for it (and what else fits), so a prompt
//      moves on at every step however many streams decode.
//
// The projections and the LM head read their weights once for all the rows, conv and scan run on each
// session's own state, and the head runs only for the rows whose logits are wanted (each decoding token,
// a prompt piece that ends a cut). Every session gets the same logits and state, bit for bit, as fed
// alone, so batching changes no text.
//
// When a step runs: as soon as every seated generation has a token waiting, or GATHER_MS after the first
// one started waiting, so a generation that is not ready (its client reads slowly) holds the others up no
// longer than that; a prompt waits as a token does. A seat has at most one token waiting, so the
// generations advance token by token, each by one per step: fairly, but short answers first. A
// generation past its first LONG_TOKENS tokens joins only every other step while a younger one has a
// token waiting: a long stream (a client asking for thousands of tokens, or one whose socket buffers
// them unread) costs the short requests beside it half its rows, and still moves on at half speed at
// worst. A seat whose client goes away leaves at once: its waiting token or prompt is dropped and its
// feed rejects with ABORTED. A prompt's client pays (gate.ts) for the time its prompt took, less the
// other sessions' rows of the steps it waited through (each call's time shared out by rows).
import { BimambaError } from '../errors.js';
import type { TokenFeeder } from '../generate/generate.js';
import { yieldToHost } from '../generate/yield.js';
import { Session } from '../model/session.js';
import type { FeedPiece } from '../chat/feed.js';

/** Longest a waiting token waits for the other seats' tokens. */
const GATHER_MS = 5;
/** Tokens a generation has fed after which it joins every other step while a younger one decodes. */
export const LONG_TOKENS = 256;

export interface Seat {
  /** Feed this generation's next token, with the other seats' waiting tokens (generate()'s feedToken). */
  feed: TokenFeeder<Session>;
  /**
   * Feed a run of prompt pieces (ids[start, end) each, at most the model's prefill chunk, in order) in
   * the steps to come; resolves with the time, in ms, that the steps it waited through spent on other
   * sessions' rows (what its client's budget does not pay, gate.ts).
   */
  feedPrompt(session: Session, ids: readonly number[], pieces: readonly FeedPiece[]): Promise<number>;
  /** Give the seat up (the generation ended); safe to call twice. */
  leave(): void;
  /**
   * The generation waits for its client to take a token (set true) or goes on (false). A waiting one
   * holds no step up: a client that stopped reading costs the others nothing until its write timeout.
   */
  away(waiting: boolean): void;
}

interface Waiting {
  session: Session;
  token: number;
  /** Its generation has fed more than LONG_TOKENS tokens. */
  long: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

/** A prompt being read: its pieces still to feed, the first `taken` of them packed into the step being built. */
interface Reading {
  session: Session;
  pieces: number[][];
  logits: boolean[];
  taken: number;
  othersMs: number; // time of the steps while this prompt waited, less its own rows' share
  resolve(othersMs: number): void;
  reject(e: unknown): void;
}

/** One forward call being packed: its parts, its rows, and which waiting token or prompt each part is of. */
interface Call {
  parts: Array<{ session: Session; tokens: number[]; logits: boolean; of?: Reading }>;
  rows: number;
  tokens: Waiting[];
  readings: Map<Reading, number>; // rows of each prompt in this call
}

export class DecodeBatcher {
  private seated = 0;
  private readonly waiting: Waiting[] = [];
  private readonly reading: Reading[] = []; // first come first
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stepping = false; // a step is scheduled for the host's next turn
  private longSkipped = false; // the last step left the long generations' tokens waiting

  /** A seat for one generation, counted from its first token; `signal` aborting makes it leave the batch at once. */
  seat(signal: AbortSignal): Seat {
    let joined = false; // a generation reading its prompt holds no one up
    let left = false;
    let isAway = false;
    let current: Waiting | null = null;
    let fed = 0; // tokens this generation has fed
    let prompt: Reading | null = null;
    const drop = () => {
      const gone = () => new BimambaError('ABORTED', 'the client went away', { cause: signal.reason });
      if (current) {
        const i = this.waiting.indexOf(current);
        if (i >= 0) this.waiting.splice(i, 1);
        current.reject(gone());
      }
      if (prompt) {
        const i = this.reading.indexOf(prompt);
        if (i >= 0) this.reading.splice(i, 1);
        prompt.reject(gone());
      }
      this.schedule();
    };
    signal.addEventListener('abort', drop);
    return {
      feed: (session, token) => {
        if (left) throw new BimambaError('BAD_ARGUMENT', 'this seat was given up');
        if (signal.aborted) throw new BimambaError('ABORTED', 'the client went away', { cause: signal.reason });
        if (!joined) {
          joined = true;
          this.seated++;
        }
        return new Promise<void>((resolve, reject) => {
          const done = () => (current = null);
          current = { session, token, long: ++fed > LONG_TOKENS, resolve: () => { done(); resolve(); }, reject: (e) => { done(); reject(e); } };
          this.waiting.push(current);
          this.schedule();
        });
      },
      feedPrompt: (session, ids, pieces) => {
        if (left) throw new BimambaError('BAD_ARGUMENT', 'this seat was given up');
        if (signal.aborted) throw new BimambaError('ABORTED', 'the client went away', { cause: signal.reason });
        if (pieces.length === 0) return Promise.resolve(0);
        return new Promise<number>((resolve, reject) => {
          const done = () => (prompt = null);
          prompt = {
            session,
            pieces: pieces.map((p) => ids.slice(p.start, p.end)),
            logits: pieces.map((p) => p.cut),
            taken: 0,
            othersMs: 0,
            resolve: (ms) => { done(); resolve(ms); },
            reject: (e) => { done(); reject(e); },
          };
          this.reading.push(prompt);
          this.schedule();
        });
      },
      leave: () => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', drop);
        drop();
        if (joined && !isAway) this.seated--;
        this.schedule();
      },
      away: (waiting) => {
        if (left || !joined || waiting === isAway) return;
        isAway = waiting;
        this.seated += waiting ? -1 : 1;
        this.schedule();
      },
    };
  }

  /** Run a step on the host's next turn once every seat waits, else GATHER_MS after the first token or prompt waited. */
  private schedule(): void {
    if ((this.waiting.length === 0 && this.reading.length === 0) || this.stepping) return;
    if (this.waiting.length >= this.seated) {
      this.stepping = true;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      void yieldToHost().then(() => this.step());
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.stepping = true;
        this.step();
      }, GATHER_MS);
    }
  }

  /** The forward calls of one step: the waiting tokens first, then prompt pieces (the header's 1-3). */
  private pack(tokens: Waiting[]): Call[] {
    const first = tokens[0]?.session ?? this.reading[0]?.session;
    if (!first) return [];
    const maxRows = first.rowsPerCall;
    const calls: Call[] = [];
    const open = (): Call => {
      const call: Call = { parts: [], rows: 0, tokens: [], readings: new Map() };
      calls.push(call);
      return call;
    };
    let call = open();
    for (const w of tokens) {
      if (call.rows === maxRows) call = open();
      call.parts.push({ session: w.session, tokens: [w.token], logits: true });
      call.rows++;
      call.tokens.push(w);
    }
    const fill = (into: Call) => {
      for (const r of this.reading) {
        while (r.taken < r.pieces.length && into.rows + r.pieces[r.taken].length <= maxRows) {
          const piece = r.pieces[r.taken];
          into.parts.push({ session: r.session, tokens: piece, logits: r.logits[r.taken], of: r });
          into.rows += piece.length;
          into.readings.set(r, (into.readings.get(r) ?? 0) + piece.length);
          r.taken++;
        }
      }
    };
    fill(call);
    if (this.reading.length > 0 && this.reading[0].taken === 0) fill(open()); // the oldest prompt moves on
    return calls.filter((c) => c.rows > 0);
  }

  /** Feed every waiting token and the prompt pieces that a step takes, in one forward call per Call. */
  private step(): void {
    this.stepping = false;
    // every other step, while a younger generation has a token waiting, the long ones' tokens wait
    const skipLong = !this.longSkipped && this.waiting.some((w) => !w.long) && this.waiting.some((w) => w.long);
    this.longSkipped = skipLong;
    const tokens: Waiting[] = [];
    for (const w of this.waiting.splice(0)) (skipLong && w.long ? this.waiting : tokens).push(w);
    const queued = this.reading.slice();
    let calls: Call[];
    try {
      calls = this.pack(tokens);
    } catch (e) { // the model is gone (disposed): nothing can be fed
      for (const w of tokens) w.reject(e);
      for (const r of this.reading.splice(0)) r.reject(e);
      return;
    }
    const failed = new Set<Reading>();
    for (const call of calls) {
      const parts = call.parts.filter((p) => !(p.of && failed.has(p.of))); // a prompt that failed in an earlier call goes no further
      if (parts.length === 0) continue;
      const t0 = performance.now();
      try {
        Session.feedParts(parts);
        for (const w of call.tokens) w.resolve();
      } catch (e) {
        for (const w of call.tokens) w.reject(e);
        for (const r of call.readings.keys()) {
          failed.add(r);
          r.reject(e);
        }
        continue;
      }
      const ms = performance.now() - t0;
      for (const r of queued) r.othersMs += ms - (ms * (call.readings.get(r) ?? 0)) / call.rows;
    }
    // the prompts read to their end leave the queue; the others keep their remaining pieces for the next step
    for (let i = this.reading.length - 1; i >= 0; i--) {
      const r = this.reading[i];
      if (failed.has(r)) {
        this.reading.splice(i, 1);
        continue;
      }
      r.pieces.splice(0, r.taken);
      r.logits.splice(0, r.taken);
      r.taken = 0;
      if (r.pieces.length === 0) {
        this.reading.splice(i, 1);
        r.resolve(r.othersMs);
      }
    }
    this.schedule(); // prompt pieces left: the next step comes as soon as the seats are ready
  }
}
