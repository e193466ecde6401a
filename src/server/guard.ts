// What every route but /health goes through before its handler runs, as one Hono middleware: the Host
// check (DNS rebinding), CORS, the API key, the content type and size of a body, and the request's clock
// (a wall-clock cap, and for a streamed answer a write timeout: a client that takes no chunk for that
// long is dropped). A route added to the app gets all of it by being added; it reads what the guard
// learned with `ownerOf(c)`, `clientOf(c)` and `requestSignal(c)`.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './request.js';

export interface GuardOptions {
  /** API keys; a request must send one as `Authorization: Bearer KEY`. Empty: no authentication. */
  apiKeys: string[];
  /**
   * Host names a request's `Host` may name besides IP literals and `localhost` ('*': any, no check).
   * A DNS-rebinding page reaches a local server under a name of its own, never under an IP literal.
   */
  allowedHosts: string[] | '*';
  /** Origins whose pages may call the API (CORS); '*' for any. Empty: none (no CORS headers at all). */
  corsOrigins: string[];
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Wall-clock cap on a request, its streamed answer included, in milliseconds. */
  requestTimeoutMs: number;
  /** A streamed answer whose client takes no chunk for this long is ended, in milliseconds. */
  writeTimeoutMs: number;
  /** The client's address, for the per-client caps (null: unknown, no per-client caps). */
  clientAddress: (c: Context) => string | null;
}

/** Why a request's signal aborted: its clock ran out. The error table answers 504 (or ends the stream). */
export class Timeout extends Error {
  constructor(readonly what: 'request' | 'write', readonly ms: number) {
    super(what === 'request' ? `the request ran past its ${ms / 1000}-second limit` : `the client took no data for ${ms / 1000} seconds`);
  }
}

/**
 * The client's address as the host gave it: what Node's HTTP server saw (@hono/node-server), else the
 * `clientAddress` string of the env a host passes to `app.fetch(request, env)` (Deno: `info.remoteAddr.hostname`,
 * Bun: `server.requestIP(request)?.address`, Workers: the `CF-Connecting-IP` header); null when none.
 */
export function hostClientAddress(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; clientAddress?: unknown } | undefined;
  const given = env?.clientAddress;
  return env?.incoming?.socket?.remoteAddress ?? (typeof given === 'string' && given !== '' ? given : null);
}

interface Guarded {
  owner: string;
  client: string | null;
  signal: AbortSignal;
}

const GUARDED = 'bimamba.guard';
const guarded = (c: Context): Guarded => {
  const g = c.get(GUARDED as never) as Guarded | undefined;
  if (!g) throw new Error('route outside the guard');
  return g;
};

/** Who owns what this request creates: an id derived from its API key ('' without keys: everyone shares). */
export const ownerOf = (c: Context): string => guarded(c).owner;
/** The client's address, or null when the host gives none. */
export const clientOf = (c: Context): string | null => guarded(c).client;
/** Aborts when the client goes away, the request's time is up, or its stream stalls; a route passes it on. */
export const requestSignal = (c: Context): AbortSignal => guarded(c).signal;

const utf8 = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text)));
}

/** Equal digests, compared without an early exit, so the time says nothing about how much matched. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The host name of a Host header (no port, no IPv6 brackets), lower-cased. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const isIpLiteral = (name: string) => IPV4.test(name) || name.includes(':');

export function hostAllowed(host: string | undefined, allowed: string[] | '*'): boolean {
  if (allowed === '*') return true;
  if (host === undefined || host === '') return false;
  const name = hostName(host);
  if (name === '') return false;
  return isIpLiteral(name) || name === 'localhost' || allowed.includes(name);
}

function refuse(c: Context, status: number, message: string, code: string, param: string | null = null): Response {
  const e = new ApiError(status, message, param, 'invalid_request_error', code);
  return c.json({ error: { message: e.message, type: e.type, param: e.param, code: e.code } }, status as 400);
}

const CORS_METHODS = 'GET, POST, OPTIONS';
const CORS_HEADERS = 'authorization, content-type, bimamba-session';
const CORS_EXPOSE = 'bimamba-session-status, retry-after';

/**
 * The guard, one middleware for `app.use('*', ...)`; `open` paths (/health) pass untouched. A response
 * that streams is wrapped so that its clock keeps running until the last chunk is taken.
 */
export function guard(options: GuardOptions, open: (path: string) => boolean): MiddlewareHandler {
  const keyDigests = Promise.all(options.apiKeys.map((k) => sha256(k)));
  const limitBody = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) => refuse(c, 413, `the request body is over ${options.maxBodyBytes} bytes`, 'body_too_large'),
  });

  return async (c, next) => {
    if (open(c.req.path)) return next();

    if (!hostAllowed(c.req.header('host'), options.allowedHosts)) {
      return refuse(c, 403, 'this server does not answer to that Host name (start it with --host-allow NAME to allow one)', 'host_not_allowed');
    }

    // CORS: only the configured origins, never with credentials; a page of any other origin is refused
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      const any = options.corsOrigins.includes('*');
      if (!any && !options.corsOrigins.includes(origin)) return refuse(c, 403, 'cross-origin requests from this origin are not allowed (see --cors)', 'origin_not_allowed');
      c.header('access-control-allow-origin', any ? '*' : origin);
      c.header('access-control-expose-headers', CORS_EXPOSE);
      if (!any) c.header('vary', 'Origin');
      if (c.req.method === 'OPTIONS') {
        c.header('access-control-allow-methods', CORS_METHODS);
        c.header('access-control-allow-headers', CORS_HEADERS);
        c.header('access-control-max-age', '600');
        return c.body(null, 204);
      }
    }

    let owner = '';
    if (options.apiKeys.length > 0) {
      const m = /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '');
      const sent = await sha256(m ? m[1] : '');
      let match: Uint8Array | null = null;
      for (const digest of await keyDigests) if (sameBytes(digest, sent)) match = digest; // no early exit
      if (!m || !match) {
        c.header('www-authenticate', 'Bearer');
        return refuse(c, 401, m ? 'Incorrect API key provided.' : 'Missing API key: send it as "Authorization: Bearer KEY".', 'invalid_api_key');
      }
      owner = hex(match.subarray(0, 8));
    }

    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.req.method !== 'OPTIONS') {
      // text/plain and form bodies are what a foreign page can send without a preflight: JSON only
      const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json') return refuse(c, 415, 'the request body must be sent as Content-Type: application/json', 'unsupported_media_type');
    }

    // the request's clock: the client leaving, the wall-clock cap, or (while streaming) a stalled client
    const abort = new AbortController();
    const clientGone = () => abort.abort(new DOMException('the client went away', 'AbortError'));
    const clientSignal = c.req.raw.signal;
    if (clientSignal?.aborted) clientGone();
    clientSignal?.addEventListener('abort', clientGone, { once: true });
    let timeoutFired!: (e: Timeout) => void;
    const timedOut = new Promise<never>((_, reject) => (timeoutFired = reject));
    timedOut.catch(() => {});
    const deadline = setTimeout(() => {
      const e = new Timeout('request', options.requestTimeoutMs);
      abort.abort(e);
      timeoutFired(e);
    }, options.requestTimeoutMs);
    const finish = () => {
      clearTimeout(deadline);
      clientSignal?.removeEventListener('abort', clientGone);
    };
    c.set(GUARDED as never, { owner, client: options.clientAddress(c), signal: abort.signal } satisfies Guarded as never);

    let streaming = false;
    try {
      const refused = await Promise.race([limitBody(c, next), timedOut]);
      if (refused instanceof Response) c.res = refused; // the body was over the limit
      const body = c.res.body;
      if (body && (c.res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        streaming = true;
        c.res = new Response(watched(body, abort, options.writeTimeoutMs, finish), c.res);
      }
    } finally {
      if (!streaming) finish();
    }
  };
}

/**
 * `body` handed on one chunk per read of the client (no read-ahead), so the time since the client
 * last took a chunk is known: past `writeTimeoutMs` the request is aborted and the stream ends.
 */
function watched(body: ReadableStream<Uint8Array>, abort: AbortController, writeTimeoutMs: number, finish: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  let watchdog: ReturnType<typeof setTimeout> | null = null;
  const end = () => {
    if (ended) return;
    ended = true;
    if (watchdog !== null) clearTimeout(watchdog);
    finish();
  };
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const arm = () => {
    if (watchdog !== null) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      const e = new Timeout('write', writeTimeoutMs);
      abort.abort(e);
      reader.cancel(e).catch(() => {});
      try {
        stream.error(e);
      } catch {
        // already closed
      }
      end();
    }, writeTimeoutMs);
  };
  // the request's clock aborting (its wall-clock cap) ends the stream too
  abort.signal.addEventListener('abort', () => {
    if (!ended) reader.cancel(abort.signal.reason).catch(() => {});
  }, { once: true });
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stream = controller;
      },
      async pull(controller) {
        if (watchdog !== null) clearTimeout(watchdog); // the client took what was there
        try {
          const r = await reader.read();
          if (r.done) {
            controller.close();
            end();
            return;
          }
          controller.enqueue(r.value);
          arm(); // until the client takes this one
        } catch (e) {
          if (!ended) controller.error(e);
          end();
        }
      },
      cancel(reason) {
        abort.abort(reason ?? new DOMException('the client went away', 'AbortError'));
        end();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
