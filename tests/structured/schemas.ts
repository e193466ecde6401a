// The JSON Schemas the structured-output tests generate for: one of each kind docs/structured-output.md
// lists (strings in them are bounded, so a small model at temperature 1 finishes within the token budget).
export const SCHEMAS: Record<string, object> = {
  person: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 24 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      email: { type: 'string', maxLength: 30 },
      member: { type: 'boolean' },
    },
    required: ['name', 'age'],
    additionalProperties: false,
  },
  tags: {
    type: 'array',
    items: { type: 'string', enum: ['red', 'green', 'blue', 'light blue', 'dark red'] },
    minItems: 2,
    maxItems: 4,
  },
  code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2,4}(-[a-z]+)?$' },
  measurement: {
    type: 'object',
    properties: {
      celsius: { type: 'number', minimum: -40, maximum: 60 },
      percent: { type: 'number', minimum: 0, maximum: 100 },
      count: { type: 'integer', exclusiveMinimum: 10, exclusiveMaximum: 2000 },
      delta: { type: 'integer', minimum: -500, maximum: -20 },
    },
    required: ['celsius', 'percent', 'count', 'delta'],
  },
  choice: { anyOf: [{ type: 'string', maxLength: 10 }, { type: 'integer' }, { type: 'null' }] },
  shape: {
    oneOf: [
      { type: 'object', properties: { kind: { const: 'circle' }, radius: { type: 'number', minimum: 0 } }, required: ['kind', 'radius'], additionalProperties: false },
      { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 99 } }, required: ['kind', 'side'], additionalProperties: false },
    ],
  },
  refs: {
    $defs: {
      point: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' } }, required: ['x', 'y'], additionalProperties: false },
    },
    type: 'object',
    properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } },
    required: ['from', 'to'],
  },
  nullable: {
    type: 'object',
    properties: {
      nickname: { type: ['string', 'null'], maxLength: 12 },
      score: { type: ['integer', 'null'], minimum: 0, maximum: 9 },
      rank: { anyOf: [{ type: 'integer', minimum: 1, maximum: 3 }, { type: 'null' }] },
      level: { enum: ['low', 'mid', 'high', 1, 2, true, null] },
      version: { const: 2 },
    },
    required: ['nickname', 'score', 'rank', 'level', 'version'],
  },
  order: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      date: { type: 'string', format: 'date' },
      items: {
        type: 'array',
        maxItems: 3,
        items: {
          type: 'object',
          properties: { sku: { type: 'string', pattern: '^[A-Z0-9]{4,8}$' }, qty: { type: 'integer', minimum: 1, maximum: 50 } },
          required: ['sku', 'qty'],
        },
      },
      note: { type: 'string', maxLength: 20 },
    },
    required: ['id', 'date', 'items'],
  },
  tuple: {
    type: 'array',
    prefixItems: [{ type: 'string', maxLength: 8 }, { type: 'integer', minimum: 0, maximum: 9 }, { type: 'boolean' }],
    minItems: 2,
    items: false,
  },
};
