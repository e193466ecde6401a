// Structured output through `bimamba serve` and the official `openai` client: response_format
// json_schema and json_object, and llama-server's `grammar`, in /v1/completions. Every output parses and
// validates; bad schemas and grammars are 400s naming the field.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startServe, type Served } from '../server/serve.js';
import { SCHEMAS } from './schemas.js';
import { validate } from './validate.js';

const SEEDS = 20;

let served: Served;
let openai: OpenAI;
beforeAll(async () => {
  served = await startServe([]);
  openai = client(served.url);
});
afterAll(async () => {
  await served?.stop();
});

type Body = OpenAI.CompletionCreateParamsNonStreaming & { response_format?: unknown; grammar?: string };
const complete = (body: Omit<Body, 'model'>) => openai.completions.create({ model: 'default', ...body } as OpenAI.CompletionCreateParamsNonStreaming);

async function apiError(request: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await request;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('the request succeeded');
}

describe('response_format through the openai client', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`json_schema ${name}: ${SEEDS} seeds at temperature 1 parse and validate`, async () => {
      for (let seed = 0; seed < SEEDS; seed++) {
        const r = await complete({
          prompt: `The ${name} as JSON: `, max_tokens: 400, temperature: 1, seed,
          response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
        });
        const { text, finish_reason } = r.choices[0];
        expect(finish_reason, text).toBe('stop');
        expect(validate(schema, JSON.parse(text)), text).toEqual([]);
      }
    });
  }

  it('json_object gives a JSON object, streamed too', async () => {
    const r = await complete({ prompt: 'Config: ', max_tokens: 400, temperature: 1, seed: 2, response_format: { type: 'json_object' } });
    const value = JSON.parse(r.choices[0].text);
    expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
    const stream = await openai.completions.create({ model: 'default', prompt: 'Config: ', max_tokens: 400, temperature: 1, seed: 2, stream: true, response_format: { type: 'json_object' } } as unknown as OpenAI.CompletionCreateParamsStreaming);
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(r.choices[0].text);
  });

  it('grammar (GBNF), as llama-server names it', async () => {
    const r = await complete({ prompt: 'Answer: ', max_tokens: 20, temperature: 1, seed: 1, grammar: 'root ::= ("yes" | "no") "." ' });
    expect(r.choices[0].text).toMatch(/^(yes|no)\.$/);
    expect(r.choices[0].finish_reason).toBe('stop');
  });

  it('a max_tokens cut is length, a valid prefix', async () => {
    const r = await complete({ prompt: 'x', max_tokens: 3, temperature: 1, seed: 1, response_format: { type: 'json_schema', json_schema: { name: 'p', schema: SCHEMAS.person } } });
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.choices[0].text.startsWith('{')).toBe(true);
  });

  it('bad schemas, grammars and formats are 400s naming the field', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'email' } } } }, 'response_format.json_schema.schema', /the format "email"/],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'array', uniqueItems: true } } } }, 'response_format.json_schema.schema', /"uniqueItems" is not supported at \/uniqueItems/],
      [{ response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name', /name must be/],
      [{ response_format: { type: 'xml' } }, 'response_format.type', /text, json_object or json_schema/],
      [{ response_format: { type: 'json_object', extra: 1 } }, 'response_format.extra', /unknown field/],
      [{ grammar: 'root ::= root "a"' }, 'grammar', /left recursion/],
      [{ grammar: 'root ::= "a' }, 'grammar', /unterminated string literal at line 1/],
      [{ grammar: 7 }, 'grammar', /must be a string/],
      [{ grammar: 'root ::= "a"', response_format: { type: 'json_object' } }, 'grammar', /either grammar or a JSON response_format/],
    ];
    for (const [fields, param, message] of cases) {
      const e = await apiError(complete({ prompt: 'x', max_tokens: 5, ...fields }));
      expect(e.status, JSON.stringify(fields)).toBe(400);
      expect((e.error as { param: string }).param).toBe(param);
      expect(e.message).toMatch(message);
    }
    // and the server still answers
    const r = await complete({ prompt: 'x', max_tokens: 2, response_format: { type: 'text' } });
    expect(r.choices[0].finish_reason).toBe('length');
  });
});
