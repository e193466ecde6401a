// One table from what went wrong to what the client is told: HTTP status, OpenAI's error `type`, the
// request field it concerns (`param`) and a `code`. Errors the routes raise themselves are ApiErrors
// already; everything else is looked up here by kind, and what is not in the table is the server's own
// fault: a 500 without internals, and the error on the operator's stderr.
import { BimambaError, type ErrorCode } from '../errors.js';
import { Busy } from './gate.js';
import { Timeout } from './guard.js';
import { ApiError } from './request.js';

interface Answer {
  status: number;
  type: 'invalid_request_error' | 'server_error';
  param: string | null;
  code: string | null;
  /** The message the client reads, from the error's own (default: that message as it is). */
  message?: (e: Error) => string;
}

const client = (status: number, param: string | null, code: string | null, message?: Answer['message']): Answer => ({ status, type: 'invalid_request_error', param, code, message });
const server = (status: number, code: string | null, message?: Answer['message']): Answer => ({ status, type: 'server_error', param: null, code, message });

/** BimambaError codes a request can cause; the others (WASM_LOAD, THREADS, DISPOSED, ...) are internal. */
export const BIMAMBA_ERRORS: Partial<Record<ErrorCode, Answer>> = {
  BAD_TOKEN: client(400, 'prompt', 'invalid_token'),
  BAD_ARGUMENT: client(400, null, 'invalid_value'),
  UNSUPPORTED: client(400, null, 'unsupported'), // a text prompt to a model without a tokenizer, say
  BAD_FORMAT: client(409, 'session', 'session_unusable', (e) => `the session's parked state cannot be used: ${e.message}`),
  CONFLICT: client(409, 'session', 'session_conflict', () => 'another request continued this session at the same time and was saved first; this continuation was not saved (the session stays as that request left it)'),
  ABORTED: client(499, null, 'client_closed', () => 'the client closed the request'), // nobody reads it
  OUT_OF_MEMORY: server(503, 'out_of_memory'),
};

const BUSY = server(503, 'busy', (e) => `the server is busy (${e.message}); retry later`);
const TIMEOUT = server(504, 'timeout');

/** What a failure means for the client. */
export function apiErrorOf(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  // an abort says why in its cause: the request's clock (504), else the client left
  const timeout = e instanceof Timeout ? e : e instanceof Error && e.cause instanceof Timeout ? e.cause : null;
  let answer: Answer | undefined;
  let source = e as Error;
  if (timeout) {
    answer = TIMEOUT;
    source = timeout;
  } else if (e instanceof Busy) answer = BUSY;
  else if (e instanceof BimambaError) answer = BIMAMBA_ERRORS[e.code];
  else if (e instanceof DOMException && e.name === 'AbortError') answer = BIMAMBA_ERRORS.ABORTED;
  if (!answer) {
    // not the client's doing: the operator needs to see it (the client gets no internals)
    console.error('bimamba serve: internal error:', e);
    return new ApiError(500, 'internal error', null, 'server_error');
  }
  return new ApiError(answer.status, answer.message ? answer.message(source) : source.message, answer.param, answer.type, answer.code);
}

export function errorBody(e: ApiError) {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}
