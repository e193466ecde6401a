// The shell of a completion route, the same for /v1/completions (app.ts) and /v1/chat/completions
// (chat.ts): the generation's abort wiring (it stops as soon as the client goes away, its time is up, or
// the stream is cancelled), the first item that decides the status, the whole answer for a plain
// request, and the server-sent events of a streamed one, which end with an error event when the
// generation fails after the status was sent. Each route only says what its events hold.
import type { Context } from 'hono';
import { BimambaError } from '../errors.js';
import type { GeneratedToken } from '../generate/generate.js';
import type { SessionOutcome } from './completion.js';
import { apiErrorOf, errorBody } from './error-table.js';
import { requestSignal } from './guard.js';

const utf8 = new TextEncoder();

/** A request's generation items (runCompletion). */
type Items = AsyncGenerator<GeneratedToken, unknown, unknown>;

/** The abort of one request's generation, tied to its request signal (the client, its clock). */
export interface ClientAbort {
  /** What the generation runs under. */
  readonly signal: AbortSignal;
  /** Abort it: the client is gone. */
  gone(): void;
  /** Stop listening to the request (once the generation is over). */
  release(): void;
}

export function clientAbort(c: Context): ClientAbort {
  const abort = new AbortController();
  const request = requestSignal(c);
  const gone = () => abort.abort(request.reason ?? new BimambaError('ABORTED', 'the client went away'));
  if (request.aborted) gone();
  request.addEventListener('abort', gone, { once: true });
  return { signal: abort.signal, gone, release: () => request.removeEventListener('abort', gone) };
}

/**
 * The first item: it decides the status (a busy server, bad token ids or an unusable session are answered
 * with an error status, before any event is sent). A failure is thrown, the abort released. A named
 * session that was not found (new, expired or evicted) starts afresh: the client is told, in a header
 * and in the answer's `head`.
 */
export async function firstItem(c: Context, items: Items, abort: ClientAbort, outcome: SessionOutcome, head: Record<string, unknown>): Promise<IteratorResult<GeneratedToken>> {
  let first: IteratorResult<GeneratedToken>;
  try {
    first = await items.next();
  } catch (e) {
    abort.release();
    throw e;
  }
  if (outcome.status !== null) {
    c.header('bimamba-session-status', outcome.status);
    head.session_status = outcome.status;
  }
  return first;
}

/** Every item, from `first` on (a request that does not stream). */
export async function allItems(first: IteratorResult<GeneratedToken>, items: Items, abort: ClientAbort): Promise<GeneratedToken[]> {
  const all: GeneratedToken[] = [];
  try {
    for (let r = first; !r.done; r = await items.next()) all.push(r.value);
  } finally {
    abort.release();
  }
  return all;
}

/** Where a route writes its events. */
export interface SseWriter {
  /** One event of JSON data. */
  event(data: unknown): void;
  /** The closing `data: [DONE]` event. */
  done(): void;
}

export interface SseRoute {
  /** Events sent before the first item (chat: the chunk that names the role), on a pull of their own. */
  opening?(out: SseWriter): void;
  /**
   * The events of one item; returns whether it wrote any (an item that writes none, e.g. text held back
   * for a possible stop string, goes on to the next: a pull that enqueues nothing is not called again).
   * An item with a finish reason is sent after the generation has run to its end (its session parked).
   */
  send(item: GeneratedToken, out: SseWriter): boolean;
}

/** The streamed answer: `items` from `first` on, one item per pull, so that the client's reading paces the generation. */
export function sseResponse(c: Context, abort: ClientAbort, items: Items, first: IteratorResult<GeneratedToken>, route: SseRoute): Response {
  let pending: IteratorResult<GeneratedToken> | null = first;
  let opened = route.opening === undefined;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const out: SseWriter = {
        event: (data) => controller.enqueue(utf8.encode(`data: ${JSON.stringify(data)}\n\n`)),
        done: () => controller.enqueue(utf8.encode('data: [DONE]\n\n')),
      };
      try {
        if (!opened) {
          opened = true;
          route.opening?.(out);
          return;
        }
        for (;;) {
          const r = pending ?? (await items.next());
          pending = null;
          if (r.done) {
            abort.release();
            controller.close();
            return;
          }
          if (r.value.finishReason) await items.next(); // park the session before saying it is done
          if (route.send(r.value, out)) return;
        }
      } catch (e) {
        abort.release();
        if (abort.signal.aborted) return; // the client is gone or its time is up: the stream ends
        out.event(errorBody(apiErrorOf(e)));
        controller.close();
      }
    },
    async cancel() {
      abort.gone();
      await items.return(undefined);
    },
  });
  c.header('content-type', 'text/event-stream');
  c.header('cache-control', 'no-cache');
  return c.body(stream);
}
