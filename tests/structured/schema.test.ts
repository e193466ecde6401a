// JSON Schema in the library: the built-in model, 20 seeds at temperature 1 for each schema of
// schemas.ts; every output parses and validates with two independent validators (ajv and
// @cfworker/json-schema). Unsupported keywords and hostile schemas are refused naming the keyword and
// its JSON pointer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BimambaError, loadModel, type Model } from '../../src/index.js';
import { compileGrammar } from '../../src/grammar/constraint.js';
import { jsonSchemaToGbnf } from '../../src/grammar/json-schema.js';
import { DEFAULT_MODEL } from '../server/serve.js';
import { WASM_URL } from '../util/wasm.js';
import { SCHEMAS } from './schemas.js';
import { validate } from './validate.js';

const SEEDS = 20;

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

describe('generate(prompt, { jsonSchema })', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`${name}: ${SEEDS} seeds at temperature 1 all parse and validate`, async () => {
      const texts = new Set<string>();
      for (let seed = 0; seed < SEEDS; seed++) {
        const c = await model.complete(`The ${name} as JSON: `, { jsonSchema: schema, temperature: 1, seed, maxTokens: 400 });
        const where = `${name} seed ${seed}: ${JSON.stringify(c.text)}`;
        expect(c.finishReason, where).toMatch(/^(stop|eos)$/);
        let value: unknown;
        expect(() => (value = JSON.parse(c.text)), where).not.toThrow();
        expect(validate(schema, value), where).toEqual([]);
        texts.add(c.text);
      }
      expect(texts.size).toBeGreaterThan(SEEDS / 4); // temperature 1 samples, not one fixed answer
    });
  }

  it('json: true gives one JSON value; complete() and generate() agree', async () => {
    for (let seed = 0; seed < 5; seed++) {
      const c = await model.complete('Data: ', { json: true, temperature: 1, seed, maxTokens: 400 });
      expect(() => JSON.parse(c.text), c.text).not.toThrow();
      let text = '';
      for await (const t of model.generate('Data: ', { json: true, temperature: 1, seed, maxTokens: 400 })) text += t.text;
      expect(text).toBe(c.text);
    }
  });

  it('unconstrained, the same prompts rarely give valid JSON (what the constraint is for)', async () => {
    let valid = 0;
    for (let seed = 0; seed < 10; seed++) {
      const c = await model.complete('The person as JSON: ', { temperature: 1, seed, maxTokens: 60 });
      try { if (validate(SCHEMAS.person, JSON.parse(c.text)).length === 0) valid++; } catch { /* not JSON */ }
    }
    expect(valid).toBeLessThan(3);
  });

  it('refuses bad option combinations', async () => {
    await expect(model.complete('x', { json: true, grammar: 'root ::= "a"' })).rejects.toThrow(/at most one of jsonSchema, json and grammar/);
    await expect(model.complete('x', { grammar: 42 as never })).rejects.toThrow(/grammar must be a string/);
    // refused before the prompt is looked at, so before any of it is fed
    await expect(model.complete('', { grammar: 'root ::= x' })).rejects.toThrow(/"x" is used at line 1, column 10 but never defined/);
    await expect(model.complete('x', { jsonSchema: false })).rejects.toThrow(/the schema false \(which nothing matches\) at #/);
    await expect(model.complete('x', { jsonSchema: 'string' as never })).rejects.toThrow(/jsonSchema must be a JSON Schema/);
  });
});

describe('unsupported keywords are refused, naming the keyword and its JSON pointer', () => {
  const refused: [object, RegExp][] = [
    [{ type: 'object', properties: { a: { type: 'string', format: 'email' } } }, /the format "email" .* at #?\/properties\/a\/format/],
    [{ type: 'array', items: { type: 'integer' }, uniqueItems: true }, /the keyword "uniqueItems" is not supported at \/uniqueItems/],
    [{ type: 'object', properties: { x: { allOf: [{ type: 'string' }] } } }, /"allOf" is not supported at \/properties\/x\/allOf/],
    [{ type: 'number', multipleOf: 3 }, /"multipleOf" is not supported at \/multipleOf/],
    [{ type: 'object', patternProperties: { '^a': {} } }, /"patternProperties" is not supported at \/patternProperties/],
    [{ type: 'string', pattern: '^(a)\\1$' }, /pattern at \/pattern has a backreference/],
    [{ type: 'string', pattern: '^(?=a)b$' }, /pattern at \/pattern has a lookaround/],
    [{ type: 'number', minimum: 0.5 }, /not a whole number on a number at \/minimum/],
    [{ $ref: 'https://example.com/s.json' }, /only #\/\$defs\/NAME/],
    [{ $ref: '#/$defs/missing' }, /points at nothing at \/\$ref/],
    [{ type: 'object', properties: { a: {} }, additionalProperties: true }, /additionalProperties other than false beside properties at \/additionalProperties/],
    [{ type: 'strin' }, /type must be one of/],
  ];
  for (const [schema, message] of refused) {
    it(JSON.stringify(schema), async () => {
      await expect(model.complete('x', { jsonSchema: schema })).rejects.toThrow(message);
      try {
        jsonSchemaToGbnf(schema);
      } catch (e) {
        expect(e).toBeInstanceOf(BimambaError);
        expect(['UNSUPPORTED', 'BAD_ARGUMENT']).toContain((e as BimambaError).code);
      }
    });
  }
});

describe('hostile schemas are refused or bounded, naming the place', () => {
  it('deep nesting', () => {
    let s: object = { type: 'integer' };
    for (let i = 0; i < 200; i++) s = { type: 'array', items: s };
    expect(() => jsonSchemaToGbnf(s)).toThrow(/nested deeper than 64 at \/items(\/items)+/);
  });
  it('huge enums: refused past the bound; a large one is a prefix tree that compiles', () => {
    expect(() => jsonSchemaToGbnf({ enum: Array.from({ length: 100_000 }, (_, i) => `v${i}`) })).toThrow(/an enum of 100000 values .* at \/enum/);
    const big = { enum: Array.from({ length: 4000 }, (_, i) => `value number ${i} of a long list`) };
    const t0 = performance.now();
    compileGrammar(jsonSchemaToGbnf(big));
    expect(performance.now() - t0).toBeLessThan(10_000); // a hang guard, not a speed target (the bench has those)
  });
  it('exploding patterns and repetitions', () => {
    expect(() => jsonSchemaToGbnf({ type: 'string', pattern: '^(a{1000}){5000}$' })).toThrow(/pattern at \/pattern repeats more than 1000 times/);
    expect(() => jsonSchemaToGbnf({ type: 'string', pattern: `^${'('.repeat(200)}a${')'.repeat(200)}$` })).toThrow(/nests groups deeper than 64/);
    expect(() => jsonSchemaToGbnf({ type: 'string', maxLength: 1e9 })).toThrow(/maxLength of 1000000000 .* at \/maxLength/);
    // (x{1000}){1000}{1000}-style nesting adds up instead of multiplying, and what passes the bound is refused
    const p = { type: 'array', items: { type: 'string', pattern: '^((([a-z]{1000}){1000}){1000})$' } };
    const t0 = performance.now();
    try { compileGrammar(jsonSchemaToGbnf(p)); } catch (e) { expect((e as Error).message).toMatch(/grows past/); }
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
  it('too many subschemas', () => {
    const props = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`p${i}`, { type: 'integer' }]));
    expect(() => jsonSchemaToGbnf({ type: 'object', properties: props })).toThrow(/more than 10000 subschemas/);
  });
  it('OpenAPI\'s nullable: true adds null', () => {
    const g = jsonSchemaToGbnf({ type: 'integer', nullable: true });
    expect(g).toMatch(/\| null/);
  });
  it('a recursive $ref compiles (every JSON value starts with a character: no left recursion)', () => {
    const tree = { $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['v'] } }, $ref: '#/$defs/node' };
    expect(() => compileGrammar(jsonSchemaToGbnf(tree))).not.toThrow();
  });
});
