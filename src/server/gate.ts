// Admission: at most `active` completions run at once (each holds one live session's state in WASM memory),
// at most `waiting` more wait for a turn; past that a request is refused at once (the app answers 503
// with Retry-After). Per client address, at most `activePerClient` run and `waitingPerClient` wait, so no
// one client (20 connections that stopped reading, say) takes every turn. A freed turn goes to the waiter
// whose client runs the fewest completions, the earliest first among those. A waiter whose client goes
// away leaves the queue.
//
// Fair share of the thread: the caps bound how many completions a client runs at once, not how much of
// the one thread they take (a client sending one cheap request after another, each restoring, feeding and
// parking a session, would take most of it from the decoding steps of everyone else). So each client has
// a budget of busy time: it earns 1/k of the wall clock while k clients have requests running or waiting
// (all of it when alone), up to BURST_MS saved, and spends what its completions report with charge()
// (their prompt and parking phases; decoding steps are shared out by the batcher, one token per
// generation per step, every other step for a long one). A client whose budget is spent gets no new
// turn while another client has a request in, until it has earned back to zero (a timer hands the turn
// then); its debt is at most MAX_DEBT_MS, and work done while no other client had a request in costs
// nothing.

export class Busy extends Error {}

/** Busy time a client can save up, in ms: a client that was quiet does this much at once. */
export const BURST_MS = 100;
/** Most debt a client runs up, in ms (one long prompt does not bar its client for minutes). */
export const MAX_DEBT_MS = 1000;

const now = () => performance.now();

export interface PerClient {
  /** Completions one client address runs at once (default: all of `active`). */
  active?: number;
  /** Requests one client address has waiting (default: all of `waiting`). */
  waiting?: number;
}

interface Waiter {
  client: string | null;
  turn(): void;
}

/** A client's budget of busy time (ms) as of `at`. */
interface Budget {
  credit: number;
  at: number;
}

export class Gate {
  readonly active: number;
  readonly waiting: number;
  readonly activePerClient: number;
  readonly waitingPerClient: number;
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly runningBy = new Map<string, number>();
  private readonly waitingBy = new Map<string, number>();
  private readonly budgets = new Map<string, Budget>(); // only of clients with a request in, or in debt
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(active: number, waiting: number, perClient: PerClient = {}) {
    this.active = active;
    this.waiting = waiting;
    this.activePerClient = Math.min(perClient.active ?? active, active);
    this.waitingPerClient = Math.min(perClient.waiting ?? waiting, waiting);
  }

  get runningCount(): number {
    return this.running;
  }
  get waitingCount(): number {
    return this.queue.length;
  }

  private static bump(counts: Map<string, number>, client: string | null, by: number): void {
    if (client === null) return;
    const n = (counts.get(client) ?? 0) + by;
    if (n === 0) counts.delete(client);
    else counts.set(client, n);
  }

  /**
   * Why a request of `client` would be refused if it asked now (the queue is full with every turn
   * taken, or the client runs and has waiting all it may), or null: the app refuses it before reading
   * its body (refusal.ts).
   */
  refusal(client: string | null): string | null {
    if (this.running >= this.active && this.queue.length >= this.waiting) return `${this.running} requests running and ${this.queue.length} waiting`;
    if (client === null) return null;
    const mine = this.waitingBy.get(client) ?? 0;
    if (this.runningOf(client) >= this.activePerClient && mine >= this.waitingPerClient) return `this client has ${mine} requests waiting already`;
    return null;
  }

  private runningOf(client: string | null): number {
    return client === null ? 0 : (this.runningBy.get(client) ?? 0);
  }

  /** Wait for a turn; the returned function ends it (call it exactly once). `client`: its address, if known. */
  async enter(signal?: AbortSignal, client: string | null = null): Promise<() => void> {
    if (signal?.aborted) throw signal.reason;
    let admitted = false;
    await new Promise<void>((resolve, reject) => {
      const gone = () => {
        if (!this.unqueue(waiter)) return;
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        client,
        turn: () => {
          admitted = true;
          signal?.removeEventListener('abort', gone);
          resolve();
        },
      };
      this.queue.push(waiter);
      Gate.bump(this.waitingBy, client, 1);
      this.pump();
      if (admitted) return;
      // it has to wait: is there room?
      const others = this.queue.length - 1;
      const mine = (client === null ? 0 : (this.waitingBy.get(client) ?? 0)) - 1;
      if (others >= this.waiting || (client !== null && mine >= this.waitingPerClient)) {
        this.unqueue(waiter);
        reject(new Busy(others >= this.waiting ? `${this.running} requests running and ${others} waiting` : `this client has ${mine} requests waiting already`));
        return;
      }
      signal?.addEventListener('abort', gone, { once: true });
    });
    if (!admitted) throw new Error('unreachable');
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running--;
      Gate.bump(this.runningBy, client, -1);
      this.pump();
    };
  }

  private unqueue(w: Waiter): boolean {
    const i = this.queue.indexOf(w);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    Gate.bump(this.waitingBy, w.client, -1);
    return true;
  }

  /** Clients with a request running or waiting. */
  private clientsIn(): number {
    let n = this.runningBy.size;
    for (const c of this.waitingBy.keys()) if (!this.runningBy.has(c)) n++;
    return n;
  }

  /** `client`'s budget brought up to now: 1/k of the time since its last update earned, up to BURST_MS. */
  private budget(client: string, k: number): Budget {
    const t = now();
    let b = this.budgets.get(client);
    if (!b) {
      b = { credit: BURST_MS, at: t };
      this.budgets.set(client, b);
    }
    b.credit = Math.min(BURST_MS, b.credit + (t - b.at) / Math.max(1, k));
    b.at = t;
    return b;
  }

  /**
   * `client`'s completion kept the thread busy for `ms` (its own work, not shared with others): its
   * budget pays for it, unless no other client has a request in (work no one waited for is free).
   * Unknown clients (null) are not counted.
   */
  charge(client: string | null, ms: number): void {
    if (client === null || !(ms > 0)) return;
    const k = this.clientsIn();
    const others = this.runningBy.has(client) || this.waitingBy.has(client) ? k - 1 : k; // it may have left already
    if (others === 0) return;
    const b = this.budget(client, others + 1);
    b.credit = Math.max(-MAX_DEBT_MS, b.credit - ms);
  }

  /** `client`'s busy-time budget now, in ms (BURST_MS when it has spent none lately). */
  creditOf(client: string): number {
    return this.budgets.has(client) ? this.budget(client, this.clientsIn()).credit : BURST_MS;
  }

  /**
   * Hand free turns to waiters: the one whose client runs the fewest, the earliest among those; a client
   * whose busy-time budget is spent waits while another client has a request in.
   */
  private pump(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const k = this.clientsIn();
    let soonest = Infinity; // ms until the first waiter held back by its budget may go
    while (this.running < this.active) {
      let best = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const client = this.queue[i].client;
        const n = this.runningOf(client);
        if (n >= this.activePerClient) continue;
        if (best >= 0 && n >= this.runningOf(this.queue[best].client)) continue;
        if (client !== null && k > 1) {
          const b = this.budget(client, k);
          if (b.credit < 0) {
            soonest = Math.min(soonest, -b.credit * k);
            continue;
          }
        }
        best = i;
      }
      if (best < 0) break;
      const [w] = this.queue.splice(best, 1);
      Gate.bump(this.waitingBy, w.client, -1);
      Gate.bump(this.runningBy, w.client, 1);
      this.running++;
      w.turn();
    }
    if (soonest < Infinity && this.running < this.active) {
      this.timer = setTimeout(() => this.pump(), Math.ceil(soonest));
      (this.timer as { unref?: () => void }).unref?.(); // a waiter's own request keeps the host alive, not this
    }
    // forget the budgets of clients with nothing in and no debt left
    for (const [client, b] of this.budgets) {
      if (this.runningBy.has(client) || this.waitingBy.has(client)) continue;
      if (this.budget(client, k).credit >= BURST_MS) this.budgets.delete(client);
    }
  }
}

/**
 * One request at a time per session name: the next waits for the previous one's snapshot. A wait ends
 * early when its signal aborts (the waiter leaves; the ones behind it still wait for the holder).
 */
export class Locks {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(name: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw signal.reason;
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => done);
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name); // the last in line: forget the name
    });
    const unlock = () => release();
    if (!signal) {
      await previous;
      return unlock;
    }
    await new Promise<void>((resolve, reject) => {
      const gone = () => {
        release(); // our link passes as soon as the holder's does: the ones behind wait only for the holder
        reject(signal.reason);
      };
      signal.addEventListener('abort', gone, { once: true });
      void previous.then(() => {
        signal.removeEventListener('abort', gone);
        if (signal.aborted) return;
        resolve();
      });
    });
    return unlock;
  }
}
