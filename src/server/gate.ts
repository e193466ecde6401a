// Admission: at most `active` completions run at once (each holds one live session's state in WASM memory),
// at most `waiting` more wait for a turn; past that a request is refused at once (the app answers 503
// with Retry-After). Per client address, at most `activePerClient` run and `waitingPerClient` wait, so no
// one client (20 connections that stopped reading, say) takes every turn. A freed turn goes to the waiter
// whose client runs the fewest completions, the earliest first among those. A waiter whose client goes
// away leaves the queue.

export class Busy extends Error {}

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

export class Gate {
  readonly active: number;
  readonly waiting: number;
  readonly activePerClient: number;
  readonly waitingPerClient: number;
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly runningBy = new Map<string, number>();
  private readonly waitingBy = new Map<string, number>();

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

  /** Hand free turns to waiters: the one whose client runs the fewest, the earliest among those. */
  private pump(): void {
    while (this.running < this.active) {
      let best = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const n = this.runningOf(this.queue[i].client);
        if (n >= this.activePerClient) continue;
        if (best < 0 || n < this.runningOf(this.queue[best].client)) best = i;
      }
      if (best < 0) return;
      const [w] = this.queue.splice(best, 1);
      Gate.bump(this.waitingBy, w.client, -1);
      Gate.bump(this.runningBy, w.client, 1);
      this.running++;
      w.turn();
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
