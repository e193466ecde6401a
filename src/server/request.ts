// The body of POST /v1/completions, checked field by field into generation options. Unknown fields and
// values we do not support are refused with OpenAI's error shape naming the field, never ignored.
import { MAX_TEMPERATURE } from '../generate/defaults.js';
import type { GenerateOptions } from '../generate/generate.js';
import { parseResponseFormat } from './response-format.js';

/** An error the client gets as `{ error: { message, type, param, code } }` with this HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export interface CompletionRequest {
  model: string;
  prompt: string | number[];
  session: string | null;
  stream: boolean;
  includeUsage: boolean;
  /** Top alternatives per token for `logprobs`, or null when not asked for. */
  logprobs: number | null;
  /** Return the prompt with its tokens' log-probabilities before the completion. */
  echo?: boolean;
  /** Token counts where the prompt-cache may keep the state (a chat prompt's message ends). */
  cachePoints?: number[];
  options: GenerateOptions & { maxTokens: number };
}

/** Session names are chosen by clients: a short plain name, usable as a file name or key as it is. */
export const SESSION_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function checkSessionName(name: unknown, param: string): string {
  if (typeof name !== 'string' || !SESSION_NAME.test(name)) {
    throw new ApiError(400, `${param} must be 1-128 characters of A-Z a-z 0-9 _ . - not starting with a dot`, param);
  }
  return name;
}

export interface Limits {
  /** Largest max_tokens a request may ask for. */
  maxTokens: number;
  /** Longest prompt, in characters or token ids; a text prompt is checked again in tokens once encoded. */
  maxPromptLength: number;
}

/** The token count of an encoded prompt against the same cap (65,536 CJK characters can be 196,608 tokens). */
export function checkPromptTokens(count: number, limits: Limits): void {
  if (count > limits.maxPromptLength) throw bad('prompt', `prompt is ${count} tokens long; this server takes at most ${limits.maxPromptLength}`);
}

const FIELDS = new Set([
  'model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty',
  'frequency_penalty', 'presence_penalty', 'seed', 'stop', 'n', 'best_of', 'echo', 'logprobs', 'suffix',
  'logit_bias', 'stream', 'stream_options', 'user', 'session', 'response_format', 'grammar',
]);

const bad = (param: string, message: string) => new ApiError(400, message, param.length > ECHO_CHARS ? `${param.slice(0, ECHO_CHARS)}...` : param);

/** Longest piece of a client's value echoed in an error message. */
const ECHO_CHARS = 100;

/**
 * A client's value as an error message shows it: a primitive as JSON, cut to ~100 characters, an
 * object or array by its kind only. Never JSON.stringify of the whole: a 4 MB nested value would cost
 * seconds (or a stack overflow) to print and be echoed whole.
 */
export function shown(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = typeof v === 'string' ? JSON.stringify(v.length > ECHO_CHARS ? v.slice(0, ECHO_CHARS) : v) : String(v);
  return typeof v === 'string' && v.length > ECHO_CHARS ? `${text.slice(0, -1)}..." (${v.length} characters)` : text;
}

function number(body: Record<string, unknown>, param: string, ok: (v: number) => boolean, rule: string): number | undefined {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw bad(param, `${param} must be ${rule}; got ${shown(v)}`);
  return v;
}

function integer(body: Record<string, unknown>, param: string, min: number, max: number): number | undefined {
  return number(body, param, (v) => Number.isSafeInteger(v) && v >= min && v <= max, `an integer in [${min}, ${max}]`);
}

/** `v` is `off`: the same primitive, or (for `{}`) an object with no keys. A type check, never a serialization. */
function isOff(v: unknown, off: unknown): boolean {
  if (typeof off !== 'object' || off === null) return v === off;
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** A field we accept only at the value that means "off" (OpenAI features this server does not have). */
function onlyOff(body: Record<string, unknown>, param: string, off: unknown[], what: string): void {
  const v = body[param];
  if (v === undefined || v === null || off.some((o) => isOff(v, o))) return;
  throw bad(param, `${param} is not supported (${what}); got ${shown(v)}`);
}

function prompt(v: unknown, limits: Limits): string | number[] {
  const param = 'prompt';
  // OpenAI also takes a list of prompts; one is what n=1 serves
  if (Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || Array.isArray(v[0]))) v = v[0];
  let p: string | number[];
  if (typeof v === 'string') p = v;
  else if (Array.isArray(v) && v.every((t) => Number.isSafeInteger(t) && t >= 0)) p = v as number[];
  else throw bad(param, 'prompt must be a string, an array of token ids, or a one-element array of either');
  if (p.length > limits.maxPromptLength) throw bad(param, `prompt is ${p.length} long; this server takes at most ${limits.maxPromptLength}`);
  return p;
}

export function parseCompletionRequest(body: unknown, header: { session?: string }, limits: Limits): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!FIELDS.has(key)) throw bad(key, `unknown field: ${shown(key)}`);

  if (typeof b.model !== 'string') throw bad('model', 'model is required (a string: GET /v1/models lists it)');
  if (b.prompt === undefined || b.prompt === null) throw bad('prompt', 'prompt is required');
  onlyOff(b, 'n', [1], 'one completion per request');
  onlyOff(b, 'best_of', [1], 'one completion per request');
  if (b.echo !== undefined && b.echo !== null && typeof b.echo !== 'boolean') throw bad('echo', 'echo must be true or false');
  if (b.echo === true && b.stream === true) throw bad('echo', 'echo is not supported with stream: true');
  onlyOff(b, 'suffix', [''], 'no insertion');
  onlyOff(b, 'logit_bias', [{}], 'no logit bias');
  onlyOff(b, 'frequency_penalty', [0], 'use repetition_penalty');
  onlyOff(b, 'presence_penalty', [0], 'use repetition_penalty');
  if (b.user !== undefined && typeof b.user !== 'string') throw bad('user', 'user must be a string');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw bad('stream', 'stream must be true or false');
  let includeUsage = false;
  if (b.stream_options !== undefined && b.stream_options !== null) {
    const so = b.stream_options as Record<string, unknown>;
    if (typeof so !== 'object' || Array.isArray(so)) throw bad('stream_options', 'stream_options must be an object');
    for (const key of Object.keys(so)) if (key !== 'include_usage') throw bad(`stream_options.${key}`, `unknown field: stream_options.${shown(key)}`);
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') throw bad('stream_options.include_usage', 'stream_options.include_usage must be true or false');
    includeUsage = so.include_usage === true;
  }
  let stop: string[] | undefined;
  if (b.stop !== undefined && b.stop !== null) {
    const s = typeof b.stop === 'string' ? [b.stop] : b.stop;
    if (!Array.isArray(s) || s.length > 4 || !s.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 256)) {
      throw bad('stop', 'stop must be a string or up to 4 strings, each 1-256 characters');
    }
    stop = s;
  }
  let session: string | null = null;
  if (b.session !== undefined && b.session !== null) session = checkSessionName(b.session, 'session');
  if (header.session !== undefined) {
    const h = checkSessionName(header.session, 'bimamba-session header');
    if (session !== null && session !== h) throw bad('session', 'the session field and the bimamba-session header name different sessions');
    session = h;
  }

  const maxTokens = integer(b, 'max_tokens', 0, limits.maxTokens) ?? 16;
  const options: CompletionRequest['options'] = {
    maxTokens,
    temperature: number(b, 'temperature', (v) => v >= 0 && v <= MAX_TEMPERATURE, `a number in [0, ${MAX_TEMPERATURE}]`) ?? 1,
    topP: number(b, 'top_p', (v) => v > 0 && v <= 1, 'a number in (0, 1]') ?? 1,
    topK: integer(b, 'top_k', 0, 1_000_000) ?? 0,
    minP: number(b, 'min_p', (v) => v >= 0 && v < 1, 'a number in [0, 1)') ?? 0,
    repetitionPenalty: number(b, 'repetition_penalty', (v) => v > 0 && v <= 10, 'a number in (0, 10]') ?? 1,
    seed: integer(b, 'seed', -(2 ** 53 - 1), 2 ** 53 - 1),
    stop,
    ...parseResponseFormat(b),
  };
  return {
    model: b.model,
    prompt: prompt(b.prompt, limits),
    session,
    stream: b.stream === true,
    includeUsage,
    logprobs: integer(b, 'logprobs', 0, 20) ?? null,
    echo: b.echo === true,
    options,
  };
}
