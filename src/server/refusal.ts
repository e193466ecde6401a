// The cheap path for a request the gate would refuse, and the price of being refused again and again.
//
// A request whose client address runs all it may and has all it may waiting (or that finds the whole
// queue full) is answered 503 before its body is read: no JSON parse, no prompt encoding, no lock, no
// turn asked for. And a client that keeps being refused (a flooder resending the moment it is told no)
// is tarpitted: past REFUSALS_FREE refusals in a short while, each further 503 of its address is held
// back, REFUSAL_DELAY_MS more for each refusal over, up to MAX_REFUSAL_DELAY_MS, with the connection
// closed after it. Its requests then cost it a second each while they cost the server a timer; a client
// refused now and then (and one that honours Retry-After) is answered at once. Refusals are forgotten at
// one per FORGET_MS.
//
// And a request that is let through costs its client REQUEST_COST_MS of its busy-time budget (gate.ts)
// besides what its turn measures: receiving it, parsing it and answering it take the thread too, and a
// flooder's requests are many and small (its turn measured about 1 ms each, its whole request about 1.5).
import type { Context, MiddlewareHandler } from 'hono';
import { apiErrorOf, errorBody } from './error-table.js';
import { Busy, type Gate } from './gate.js';
import { clientOf, requestSignal } from './guard.js';

/** Refusals of an address answered at once (past them, each is held back). */
export const REFUSALS_FREE = 8;
/** How much longer each refusal over REFUSALS_FREE holds the answer back, in ms. */
export const REFUSAL_DELAY_MS = 50;
/** The longest an answer is held back, in ms. */
export const MAX_REFUSAL_DELAY_MS = 1000;
/** One refusal of an address is forgotten per this many ms. */
export const FORGET_MS = 250;

/** What a request costs its client's busy-time budget besides its turn's own work, in ms. */
export const REQUEST_COST_MS = 0.5;

/** The routes that take a turn of the gate (the ones the early refusal guards). */
export const GATED_ROUTES = ['/v1/completions', '/v1/chat/completions', '/v1/embeddings'];

interface Strikes {
  count: number;
  at: number;
}

/** Recent refusals per client address, and how long to hold back the next answer. */
export class Refusals {
  private readonly byClient = new Map<string, Strikes>();
  private swept = 0;

  /** `client` was refused again: how long its answer waits, in ms (0: at once). */
  refused(client: string, at = performance.now()): number {
    this.sweep(at);
    const s = this.strikes(client, at);
    s.count++;
    return Math.min(MAX_REFUSAL_DELAY_MS, Math.max(0, s.count - REFUSALS_FREE) * REFUSAL_DELAY_MS);
  }

  /** Addresses with refusals not yet forgotten. */
  get size(): number {
    return this.byClient.size;
  }

  private strikes(client: string, at: number): Strikes {
    let s = this.byClient.get(client);
    if (!s) {
      s = { count: 0, at };
      this.byClient.set(client, s);
    }
    s.count = Math.max(0, s.count - (at - s.at) / FORGET_MS);
    s.at = at;
    return s;
  }

  /** Forget addresses whose refusals are all forgotten (at most once a second: the map stays small). */
  private sweep(at: number): void {
    if (at - this.swept < 1000) return;
    this.swept = at;
    for (const [client, s] of this.byClient) if (s.count - (at - s.at) / FORGET_MS <= 0) this.byClient.delete(client);
  }
}

/** Waits `ms` (or until the request's signal aborts); true if it waited at all. */
function heldBack(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0 || signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(true);
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The middleware for the gated routes (after the guard): refuses a request over its client's caps
 * before its body is read, and holds back the 503s of a client that keeps being refused.
 */
export function refuseEarly(gate: Gate, refusals = new Refusals()): MiddlewareHandler {
  return async (c: Context, next) => {
    if (c.req.method !== 'POST') return next();
    const client = clientOf(c);
    const over = gate.refusal(client);
    if (over === null) {
      await next();
      gate.charge(client, REQUEST_COST_MS);
      if (c.res.status !== 503 || client === null) return;
      if (await heldBack(refusals.refused(client), requestSignal(c))) c.res.headers.set('connection', 'close');
      return;
    }
    if (client !== null && (await heldBack(refusals.refused(client), requestSignal(c)))) c.header('connection', 'close');
    c.header('Retry-After', '1');
    return c.json(errorBody(apiErrorOf(new Busy(over))), 503);
  };
}
