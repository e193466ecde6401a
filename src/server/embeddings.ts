// POST /v1/embeddings: OpenAI's embeddings (model.embed: the mean of the last hidden states after the
// final norm, L2-normalised), for one input or a batch, as float arrays or base64 of little-endian f32.
// An embedding takes a turn of the gate like a completion: it holds a session's state while it runs.
import type { Context, Hono } from 'hono';
import { BimambaError } from '../errors.js';
import { yieldToHost } from '../generate/yield.js';
import type { RouteContext } from './chat.js';
import { clientOf, requestSignal } from './guard.js';
import { jsonObject, onlyFields } from './json-body.js';
import { ApiError } from './request.js';

const FIELDS = ['model', 'input', 'encoding_format', 'dimensions', 'user'];
/** Most inputs in one request. */
export const MAX_EMBEDDING_INPUTS = 256;

function base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(4 * i, v[i], true);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** The inputs: a string, a list of strings, a list of token ids, or a list of such lists. */
function inputs(v: unknown, maxLength: number): Array<string | number[]> {
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => Number.isSafeInteger(t) && t >= 0);
  let list: Array<string | number[]>;
  if (typeof v === 'string') list = [v];
  else if (isIds(v)) list = [v];
  else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || isIds(x))) list = v as Array<string | number[]>;
  else throw new ApiError(400, 'input must be a string, an array of strings, an array of token ids, or an array of such arrays (none empty)', 'input');
  if (list.length > MAX_EMBEDDING_INPUTS) throw new ApiError(400, `input has ${list.length} items; this server takes at most ${MAX_EMBEDDING_INPUTS}`, 'input');
  let total = 0;
  for (const [i, x] of list.entries()) {
    if (x.length === 0) throw new ApiError(400, `input[${i}] is empty`, 'input');
    if (x.length > maxLength) throw new ApiError(400, `input[${i}] is ${x.length} long; this server takes at most ${maxLength}`, 'input');
    total += x.length;
  }
  if (total > 4 * maxLength) throw new ApiError(400, `the inputs are ${total} long in all; this server takes at most ${4 * maxLength}`, 'input');
  return list;
}

export function registerEmbeddings(app: Hono, ctx: RouteContext): void {
  const { engine, modelName } = ctx;
  const model = engine.model;
  app.post('/v1/embeddings', async (c: Context) => {
    const b = await jsonObject(c);
    onlyFields(b, FIELDS);
    if (typeof b.model !== 'string') throw new ApiError(400, 'model is required (a string: GET /v1/models lists it)', 'model');
    if (b.model !== modelName) throw new ApiError(404, `model ${JSON.stringify(b.model)} is not served here; this server runs ${JSON.stringify(modelName)}`, 'model', 'invalid_request_error', 'model_not_found');
    const format = b.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw new ApiError(400, "encoding_format must be 'float' or 'base64'", 'encoding_format');
    if (b.dimensions !== undefined && b.dimensions !== null && b.dimensions !== model.config.d_model) {
      throw new ApiError(400, `dimensions: this model's embeddings have ${model.config.d_model} (no other size)`, 'dimensions');
    }
    if (b.user !== undefined && typeof b.user !== 'string') throw new ApiError(400, 'user must be a string', 'user');
    if (b.input === undefined || b.input === null) throw new ApiError(400, 'input is required', 'input');
    const list = inputs(b.input, ctx.limits.maxPromptLength);
    const signal = requestSignal(c);
    const leave = await engine.gate.enter(signal, clientOf(c));
    const data = [];
    let tokens = 0;
    try {
      for (const [index, x] of list.entries()) {
        if (index > 0) await yieldToHost();
        if (signal?.aborted) throw new ApiError(499, 'the client closed the request');
        let v: Float32Array;
        try {
          v = model.embed(x);
        } catch (e) {
          if (e instanceof BimambaError && e.code === 'BAD_TOKEN') throw new ApiError(400, `input[${index}]: ${e.message}`, 'input');
          throw e;
        }
        tokens += typeof x === 'string' ? (model.tokenizer?.encode(x).length ?? 0) + (model.addBosByDefault ? 1 : 0) : x.length;
        data.push({ object: 'embedding', index, embedding: format === 'base64' ? base64(v) : Array.from(v) });
      }
    } finally {
      leave();
    }
    return c.json({ object: 'list', data, model: modelName, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  });
}
