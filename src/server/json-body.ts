// The JSON body of a POST, under a size cap: a 413 past it, a 400 when it is not JSON or not an object.
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './request.js';

/** Hono middleware refusing bodies over `maxBytes` with OpenAI's error shape. */
export const jsonBodyLimit = (maxBytes: number) =>
  bodyLimit({ maxSize: maxBytes, onError: (c) => c.json({ error: { message: `the request body is over ${maxBytes >> 20} MiB`, type: 'invalid_request_error', param: null, code: null } }, 413) });

export async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, 'the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Refuse fields not in `known`, naming the first. */
export function onlyFields(body: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(body)) if (!known.includes(key)) throw new ApiError(400, `unknown field: ${key}`, key);
}
