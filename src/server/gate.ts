// Admission: at most `active` completions run at once (each holds one live session's state in WASM memory),
// at most `waiting` more wait for a turn, first come first served; past that a request is refused at once
// (the app answers 503 with Retry-After). A waiter whose client goes away leaves the queue.

export class Busy extends Error {}

export class Gate {
  readonly active: number;
  readonly waiting: number;
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(active: number, waiting: number) {
    this.active = active;
    this.waiting = waiting;
  }

  get runningCount(): number {
    return this.running;
  }
  get waitingCount(): number {
    return this.queue.length;
  }

  /** Wait for a turn; the returned function ends it (call it exactly once). */
  async enter(signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.active && this.queue.length === 0) {
      this.running++;
      return this.leaver();
    }
    if (this.queue.length >= this.waiting) throw new Busy(`${this.running} requests running and ${this.queue.length} waiting`);
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', gone);
        resolve();
      };
      const gone = () => {
        const i = this.queue.indexOf(turn);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', gone, { once: true });
      this.queue.push(turn);
    });
    return this.leaver(); // `running` was handed over by the leaver that woke us
  }

  private leaver(): () => void {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    };
  }
}

/** One request at a time per session name: the next waits for the previous one's snapshot. */
export class Locks {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(name: string): Promise<() => void> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => done);
    this.tails.set(name, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    };
  }
}
