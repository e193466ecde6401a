// Giving the host a turn between tokens, so that timers, abort handlers and (on a page) input and painting
// run while a model generates. A zero-delay timer is the wrong tool: browsers clamp repeated ones to 4 ms,
// which at hundreds of tokens a second is most of the time. So: setImmediate where it exists (Node, Bun),
// else a MessageChannel message (every browser, Deno, Cloudflare Workers); a timer only where neither is.
// Not scheduler.yield (Chromium): its continuation is queued ahead of ordinary tasks, so a timer, a
// worker's incoming message or a click that would abort never gets its turn. And only once per time slice.

/** Work between two turns given to the host (a page stays responsive at this). */
export const SLICE_MS = 8;
/** At most this many tokens between turns, for hosts whose clock stands still while code runs (workerd). */
const SLICE_TOKENS = 32;

const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };

/** One turn for the host's event loop: a macrotask, without timer clamping. */
export const yieldToHost: () => Promise<void> =
  typeof g.setImmediate === 'function'
    ? () => new Promise((resolve) => g.setImmediate!(resolve))
    : typeof g.MessageChannel === 'function'
      ? () =>
          new Promise((resolve) => {
            // a channel per turn, closed at once: an open port would keep Deno or Node alive at exit
            const { port1, port2 } = new g.MessageChannel!();
            port1.onmessage = () => {
              port1.close();
              resolve();
            };
            port2.postMessage(null);
            port2.close();
          })
      : () => new Promise((resolve) => setTimeout(resolve, 0));

const now: () => number = typeof performance === 'object' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

/** Yields to the host once SLICE_MS of work (or SLICE_TOKENS tokens) went by since the last turn. */
export class TimeSlicer {
  private start = now();
  private tokens = 0;

  /** Call once per token; awaits a host turn only when this slice is used up. */
  async tick(): Promise<void> {
    if (++this.tokens < SLICE_TOKENS && now() - this.start < SLICE_MS) return;
    await yieldToHost();
    this.start = now();
    this.tokens = 0;
  }
}
