// The body of POST /v1/chat/completions, checked field by field, as request.ts checks /v1/completions:
// unknown fields and values we do not support are refused naming the field. Tools and function calling
// are refused for now. Options that other parts of the server add (structured output, say) plug in
// through `extraFields`: each is a field name and a function that checks its value into the request.
import type { ChatMessage } from '../chat/template.js';
import { MAX_MESSAGES } from '../chat/template.js';
import { ApiError, checkSessionName, parseCompletionRequest, type CompletionRequest, type Limits } from './request.js';

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  session: string | null;
  stream: boolean;
  includeUsage: boolean;
  /** Top alternatives per token (`top_logprobs`) when `logprobs` is true, else null. */
  logprobs: number | null;
  options: CompletionRequest['options'];
}

/** A field another module adds to the chat request: it checks `value` (never undefined) into `req`. */
export type ExtraField = (value: unknown, req: ChatRequest) => void;

const bad = (param: string, message: string) => new ApiError(400, message, param);

/** Fields read here; the sampling ones are checked by parseCompletionRequest's rules, so the two agree. */
const OWN = new Set(['messages', 'max_completion_tokens', 'logprobs', 'top_logprobs']);
const SAMPLING = new Set([
  'model', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'frequency_penalty',
  'presence_penalty', 'seed', 'stop', 'n', 'logit_bias', 'stream', 'stream_options', 'user', 'session',
  'response_format', 'grammar', // structured output (response-format.ts)
]);
/** Tool calling: refused unless empty or off. */
const TOOLS = ['tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls'];
const MESSAGE_FIELDS = new Set(['role', 'content', 'name']);
/** 'developer' is OpenAI's newer name for the system role. */
const ROLE_OF: Record<string, ChatMessage['role']> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

function content(v: unknown, param: string): string {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) throw bad(param, `${param} must be a string or an array of text parts`);
  let text = '';
  for (const [j, part] of v.entries()) {
    const p = `${param}[${j}]`;
    if (typeof part !== 'object' || part === null || Array.isArray(part)) throw bad(p, `${p} must be an object { type: 'text', text }`);
    const { type, text: t, ...rest } = part as Record<string, unknown>;
    if (type !== 'text') throw bad(`${p}.type`, `${p}.type ${JSON.stringify(type)} is not supported: this model reads text parts only`);
    if (typeof t !== 'string') throw bad(`${p}.text`, `${p}.text must be a string`);
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw bad(`${p}.${extra}`, `unknown field: ${p}.${extra}`);
    text += t;
  }
  return text;
}

function messages(v: unknown, limits: Limits): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad('messages', 'messages must be a non-empty array of { role, content }');
  if (v.length > MAX_MESSAGES) throw bad('messages', `messages has ${v.length} items; this server takes at most ${MAX_MESSAGES}`);
  let chars = 0;
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(p, `${p} must be an object { role, content }`);
    const msg = m as Record<string, unknown>;
    for (const key of Object.keys(msg)) {
      const v = msg[key];
      // what a client sends back of an assistant message it got from us: no refusal, no tool calls
      const empty = v === null || (Array.isArray(v) && v.length === 0);
      if ((key === 'refusal' || key === 'annotations' || key === 'tool_calls' || key === 'audio' || key === 'function_call') && empty) continue;
      if (key === 'tool_calls' || key === 'tool_call_id' || key === 'function_call') throw bad(`${p}.${key}`, `${p}.${key}: tool and function calling are not supported`);
      if (!MESSAGE_FIELDS.has(key)) throw bad(`${p}.${key}`, `unknown field: ${p}.${key}`);
    }
    if (msg.role === 'tool' || msg.role === 'function') throw bad(`${p}.role`, `${p}.role ${JSON.stringify(msg.role)}: tool and function calling are not supported`);
    const role = typeof msg.role === 'string' ? ROLE_OF[msg.role] : undefined;
    if (!role) throw bad(`${p}.role`, `${p}.role must be 'system', 'developer', 'user' or 'assistant'; got ${JSON.stringify(msg.role)}`);
    if (msg.content === undefined || msg.content === null) throw bad(`${p}.content`, `${p}.content is required`);
    const text = content(msg.content, `${p}.content`);
    chars += text.length;
    if (chars > limits.maxPromptLength) throw bad('messages', `the messages hold over ${limits.maxPromptLength} characters; this server takes at most that`);
    const out: ChatMessage = { role, content: text };
    if (msg.name !== undefined) {
      if (typeof msg.name !== 'string' || msg.name.length > 256) throw bad(`${p}.name`, `${p}.name must be a string of at most 256 characters`);
      out.name = msg.name;
    }
    return out;
  });
}

export function parseChatRequest(body: unknown, header: { session?: string }, limits: Limits, extraFields: Record<string, ExtraField> = {}): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (TOOLS.includes(key)) {
      const v = b[key];
      const off = v === null || v === 'none' || v === false || (Array.isArray(v) && v.length === 0);
      if (!off) throw bad(key, `${key}: tool and function calling are not supported by this server`);
    } else if (!OWN.has(key) && !SAMPLING.has(key) && !Object.hasOwn(extraFields, key)) {
      throw bad(key, `unknown field: ${key}`);
    }
  }
  if (b.messages === undefined || b.messages === null) throw bad('messages', 'messages is required');
  if (b.max_tokens !== undefined && b.max_tokens !== null && b.max_completion_tokens !== undefined && b.max_completion_tokens !== null && b.max_tokens !== b.max_completion_tokens) {
    throw bad('max_completion_tokens', 'max_tokens and max_completion_tokens differ: give one');
  }
  // the sampling fields, by the completions parser's rules (a placeholder prompt; the real one is the messages)
  const sampling: Record<string, unknown> = { prompt: 'x' };
  for (const key of SAMPLING) if (b[key] !== undefined) sampling[key] = b[key];
  if (b.max_completion_tokens !== undefined && b.max_completion_tokens !== null) {
    try {
      sampling.max_tokens = b.max_completion_tokens;
      parseCompletionRequest(sampling, {}, limits);
    } catch (e) {
      if (e instanceof ApiError && e.param === 'max_tokens') throw bad('max_completion_tokens', e.message.replace(/max_tokens/g, 'max_completion_tokens'));
      throw e;
    }
  }
  // OpenAI's chat default: as long as the model goes (bounded by the server's max_tokens limit)
  if (sampling.max_tokens === undefined || sampling.max_tokens === null) sampling.max_tokens = limits.maxTokens;
  const base = parseCompletionRequest(sampling, header, limits);

  if (b.logprobs !== undefined && b.logprobs !== null && typeof b.logprobs !== 'boolean') throw bad('logprobs', 'logprobs must be true or false (top_logprobs gives the number of alternatives)');
  let logprobs: number | null = b.logprobs === true ? 0 : null;
  if (b.top_logprobs !== undefined && b.top_logprobs !== null) {
    const n = b.top_logprobs;
    if (!(Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= 20)) throw bad('top_logprobs', `top_logprobs must be an integer in [0, 20]; got ${JSON.stringify(n)}`);
    if (logprobs === null) throw bad('top_logprobs', 'top_logprobs needs logprobs: true');
    logprobs = n as number;
  }
  if (b.session !== undefined && b.session !== null) checkSessionName(b.session, 'session');
  const req: ChatRequest = {
    model: base.model,
    messages: messages(b.messages, limits),
    session: base.session,
    stream: base.stream,
    includeUsage: base.includeUsage,
    logprobs,
    options: base.options,
  };
  for (const [key, check] of Object.entries(extraFields)) if (b[key] !== undefined) check(b[key], req);
  return req;
}
