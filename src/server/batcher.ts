// Decoding steps of concurrent completions, batched (server-internal). Each running generation has a seat;
// once it has sampled its next token it hands the token to its seat, and the batcher feeds the waiting
// tokens in one forward pass (Session.feedBatch): the projections and the LM head read their weights once
// for the whole batch, while conv and scan run on each session's own state. Every session gets the same
// logits, bit for bit, as fed alone, so batching changes no text.
//
// When a step runs: as soon as every seated generation has a token waiting, or GATHER_MS after the first
// one started waiting, so a generation that is not ready (its client reads slowly, or its prompt is
// being read) holds the others up no longer than that. A seat has at most one token waiting, so the
// generations advance token by token, each by one per step: fairly. A seat whose client goes away leaves
// at once: its waiting token is dropped and its feed rejects with ABORTED.
import { BimambaError } from '../errors.js';
import type { TokenFeeder } from '../generate/generate.js';
import { yieldToHost } from '../generate/yield.js';
import { Session } from '../model/session.js';

/** Longest a waiting token waits for the other seats' tokens. */
const GATHER_MS = 5;

export interface Seat {
  /** Feed this generation's next token, with the other seats' waiting tokens (generate()'s feedToken). */
  feed: TokenFeeder<Session>;
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
  resolve(): void;
  reject(e: unknown): void;
}

export class DecodeBatcher {
  private seated = 0;
  private readonly waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stepping = false; // a step is scheduled for the host's next turn

  /** A seat for one generation, counted from its first token; `signal` aborting makes it leave the batch at once. */
  seat(signal: AbortSignal): Seat {
    let joined = false; // a generation reading its prompt holds no one up
    let left = false;
    let isAway = false;
    let current: Waiting | null = null;
    const drop = () => {
      if (!current) return;
      const i = this.waiting.indexOf(current);
      if (i >= 0) this.waiting.splice(i, 1);
      current.reject(new BimambaError('ABORTED', 'the client went away', { cause: signal.reason }));
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
          current = { session, token, resolve: () => { done(); resolve(); }, reject: (e) => { done(); reject(e); } };
          this.waiting.push(current);
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

  /** Run a step on the host's next turn once every seat waits, else GATHER_MS after the first token waited. */
  private schedule(): void {
    if (this.waiting.length === 0 || this.stepping) return;
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

  /** Feed every waiting token, first come first served, in one forward pass per prefill chunk of them. */
  private step(): void {
    this.stepping = false;
    const batch = this.waiting.splice(0);
    if (batch.length > 0) {
      try {
        Session.feedBatch(batch.map((w) => w.session), batch.map((w) => w.token));
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
  }
}
