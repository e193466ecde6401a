// The JSON body of a POST: its nesting checked before JSON.parse, then a 400 when it is not JSON or not an
// object. (The guard has already refused a body over its size cap or of another content type.)
import type { Context } from 'hono';
import { checkJsonShape } from '../format/json-shape.js';
import { ApiError } from './request.js';

/** Deepest nesting a request body may have (OpenAI's bodies need 3). */
const MAX_BODY_DEPTH = 16;

/** A request body as JSON, its nesting checked before JSON.parse (4 MB of "[[[[" cost it most of a second). */
export function parseJsonBody(text: string): unknown {
  try {
    checkJsonShape(text, 'the request body', { maxDepth: MAX_BODY_DEPTH });
  } catch {
    throw new ApiError(400, `the request body nests deeper than ${MAX_BODY_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'the request body is not valid JSON');
  }
}


/** The body as a JSON object. */
export async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  const body = parseJsonBody(await c.req.text());
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Refuse fields not in `known`, naming the first. */
export function onlyFields(body: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(body)) if (!known.includes(key)) throw new ApiError(400, `unknown field: ${key}`, key);
}
