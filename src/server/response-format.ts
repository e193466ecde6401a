// Structured output fields of a request body: OpenAI's `response_format` ({type: 'text'},
// {type: 'json_object'}, {type: 'json_schema', json_schema: {name, schema, strict}}) and llama-server's
// `grammar` (GBNF text). The grammar is compiled here, so a bad schema or grammar is a 400 naming the
// field before any generation starts. Shared by /v1/completions and /v1/chat/completions.
import { BimambaError } from '../errors.js';
import { compileGrammar, grammarText, type StructuredOptions } from '../grammar/constraint.js';
import { ApiError } from './request.js';

const bad = (param: string, message: string) => new ApiError(400, message, param);

/** The generation options for a body's response_format and grammar fields ({} when neither is given). */
export function parseResponseFormat(body: Record<string, unknown>): StructuredOptions {
  const rf = body.response_format;
  const grammar = body.grammar;
  let options: StructuredOptions = {};
  let param = 'response_format';
  if (rf !== undefined && rf !== null) {
    if (typeof rf !== 'object' || Array.isArray(rf)) throw bad(param, 'response_format must be an object');
    const r = rf as Record<string, unknown>;
    for (const key of Object.keys(r)) if (key !== 'type' && key !== 'json_schema') throw bad(`response_format.${key}`, `unknown field: response_format.${key}`);
    if (r.type === 'json_object') {
      if (r.json_schema !== undefined) throw bad('response_format.json_schema', 'json_schema goes with type json_schema');
      options = { jsonSchema: { type: 'object' } };
    } else if (r.type === 'json_schema') {
      const js = r.json_schema as Record<string, unknown>;
      if (typeof js !== 'object' || js === null || Array.isArray(js)) throw bad('response_format.json_schema', 'response_format.json_schema must be an object with name and schema');
      for (const key of Object.keys(js)) {
        if (!['name', 'schema', 'strict', 'description'].includes(key)) throw bad(`response_format.json_schema.${key}`, `unknown field: response_format.json_schema.${key}`);
      }
      if (typeof js.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name)) throw bad('response_format.json_schema.name', 'response_format.json_schema.name must be 1-64 characters of A-Z a-z 0-9 _ -');
      if (js.strict !== undefined && js.strict !== null && typeof js.strict !== 'boolean') throw bad('response_format.json_schema.strict', 'response_format.json_schema.strict must be true or false');
      if (js.description !== undefined && typeof js.description !== 'string') throw bad('response_format.json_schema.description', 'response_format.json_schema.description must be a string');
      param = 'response_format.json_schema.schema';
      const schema = js.schema ?? {}; // OpenAI: a missing schema is any JSON object... here any JSON value
      if (typeof schema !== 'object' && typeof schema !== 'boolean') throw bad(param, 'response_format.json_schema.schema must be a JSON Schema object');
      options = { jsonSchema: schema as object };
    } else if (r.type !== 'text') {
      throw bad('response_format.type', `response_format.type must be text, json_object or json_schema; got ${JSON.stringify(r.type)}`);
    } else if (r.json_schema !== undefined) {
      throw bad('response_format.json_schema', 'json_schema goes with type json_schema');
    }
  }
  if (grammar !== undefined && grammar !== null) {
    if (options.jsonSchema !== undefined) throw bad('grammar', 'give either grammar or a JSON response_format, not both');
    if (typeof grammar !== 'string') throw bad('grammar', 'grammar must be a string of GBNF');
    param = 'grammar';
    options = { grammar };
  }
  // compile now: a bad schema or grammar is the client's error, named by its field
  try {
    const text = grammarText(options);
    if (text !== null) compileGrammar(text);
  } catch (e) {
    if (e instanceof BimambaError) throw bad(param, e.message);
    throw e;
  }
  return options;
}
