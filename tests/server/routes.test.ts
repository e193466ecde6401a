// /v1/embeddings through the openai client (floats and base64: model.embed's vector), /tokenize and
// /detokenize in llama-server's and vLLM's shapes, /tokenizer_info, and /metrics counting what ran;
// each with the inputs that would break it.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { createApp } from '../../src/server/app.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
let app: ReturnType<typeof createApp>;
let openai: OpenAI;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
  app = createApp({ model, modelName: 'default' });
  openai = new OpenAI({ baseURL: 'http://local/v1', apiKey: 'unused', maxRetries: 0, fetch: async (url, init) => app.fetch(new Request(url, init)) });
});
afterAll(() => model?.dispose());

const post = async (path: string, body: unknown) => {
  const r = await app.fetch(new Request(`http://local${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
  return { status: r.status, json: await r.json() };
};

describe('/v1/embeddings', () => {
  it("gives model.embed's unit vector, as floats and as base64 (the client's default), for a batch", async () => {
    const texts = ['The king had three sons.', 'A cat sat on the mat.'];
    const expected = texts.map((t) => model.embed(t));
    expect(Math.hypot(...expected[0])).toBeCloseTo(1, 5);
    expect(expected[0]).toHaveLength(model.config.d_model);
    const floats = await openai.embeddings.create({ model: 'default', input: texts, encoding_format: 'float' });
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    for (const [i, d] of floats.data.entries()) expect(Float32Array.from(d.embedding)).toEqual(expected[i]);
    const b64 = await openai.embeddings.create({ model: 'default', input: texts[1] }); // the client asks for base64 and decodes it
    expect(Float32Array.from(b64.data[0].embedding)).toEqual(expected[1]);
    expect(b64.usage.prompt_tokens).toBeGreaterThan(0);
    const ids = await openai.embeddings.create({ model: 'default', input: [[5, 6, 7]], encoding_format: 'float' });
    expect(Float32Array.from(ids.data[0].embedding)).toEqual(model.embed([5, 6, 7]));
    // different texts, different vectors
    expect(expected[0]).not.toEqual(expected[1]);
  });

  it('refuses bad inputs naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ input: '' }, 'input'],
      [{ input: [] }, 'input'],
      [{ input: [1, -1] }, 'input'],
      [{ input: [{ text: 'x' }] }, 'input'],
      [{ input: new Array(300).fill('x') }, 'input'],
      [{ input: 'x'.repeat(70_000) }, 'input'],
      [{ input: [[999_999]] }, 'input'], // a token id outside the vocabulary
      [{ input: 'x', encoding_format: 'int8' }, 'encoding_format'],
      [{ input: 'x', dimensions: 3 }, 'dimensions'],
      [{ input: 'x', pooling: 'cls' }, 'pooling'],
    ];
    for (const [fields, param] of cases) {
      const r = await post('/v1/embeddings', { model: 'default', ...fields });
      expect(r.status, JSON.stringify(fields).slice(0, 100)).toBe(400);
      expect(r.json.error.param, JSON.stringify(fields).slice(0, 100)).toBe(param);
    }
    expect((await post('/v1/embeddings', { model: 'other', input: 'x' })).status).toBe(404);
  });
});

describe('the tokenizer routes', () => {
  it('tokenize and detokenize in both shapes, with and without BOS', async () => {
    const text = 'Hello there, world.';
    const ids = model.tokenizer!.encode(text);
    const llama = await post('/tokenize', { content: text, add_special: false });
    expect(llama.json.tokens).toEqual(ids);
    const vllm = await post('/tokenize', { prompt: text, add_special_tokens: false, model: 'default' });
    expect(vllm.json).toMatchObject({ tokens: ids, count: ids.length });
    const withBos = await post('/tokenize', { prompt: text });
    expect(withBos.json.tokens).toEqual(model.addBosByDefault ? [model.bosTokenId, ...ids] : ids);
    const pieces = await post('/tokenize', { content: text, add_special: false, with_pieces: true });
    expect(pieces.json.tokens.map((p: { piece: string }) => p.piece).join('')).toBe(text);
    const back = await post('/detokenize', { tokens: ids });
    expect(back.json).toEqual({ content: text, prompt: text });
  });

  it('refuse what would break them', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['/tokenize', { content: 5 }, 'content'],
      ['/tokenize', { content: 'a', prompt: 'b' }, 'prompt'],
      ['/tokenize', { content: 'x'.repeat(70_000) }, 'content'],
      ['/tokenize', { content: 'a', add_special: 'yes' }, 'add_special'],
      ['/tokenize', { content: 'a', colour: 1 }, 'colour'],
      ['/detokenize', { tokens: [1, 2.5] }, 'tokens'],
      ['/detokenize', { tokens: [999_999] }, 'tokens'],
      ['/detokenize', { tokens: new Array(70_000).fill(1) }, 'tokens'],
      ['/detokenize', { tokens: 'abc' }, 'tokens'],
    ];
    for (const [path, body, param] of cases) {
      const r = await post(path, body);
      expect(r.status, `${path} ${JSON.stringify(body).slice(0, 80)}`).toBe(400);
      expect(r.json.error.param).toBe(param);
    }
    const notJson = await app.fetch(new Request('http://local/tokenize', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content": ' }));
    expect(notJson.status).toBe(400);
    // a body that is not declared JSON (a page's text/plain POST needs no preflight) is refused before it is read
    const plain = await app.fetch(new Request('http://local/tokenize', { method: 'POST', body: '{"content": "x"}' }));
    expect(plain.status).toBe(415);
  });

  it('/tokenizer_info names the special tokens and the chat template', async () => {
    const r = await app.fetch(new Request('http://local/tokenizer_info'));
    const info = await r.json();
    expect(info.eos_token).toBe(model.eosTokenId === null ? null : model.tokenizer!.idToToken(model.eosTokenId));
    expect(typeof info.chat_template).toBe('string');
    expect(info.chat_template).toContain('Assistant:');
  });
});

describe('/metrics', () => {
  it('counts requests, tokens and prompt-cache hits in Prometheus text', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];
    const r1 = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 3, temperature: 0 });
    await openai.chat.completions.create({ model: 'default', messages: [...messages, r1.choices[0].message, { role: 'user', content: 'Go on.' }], max_tokens: 3, temperature: 0 });
    const res = await app.fetch(new Request('http://local/metrics'));
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^bimamba_${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(text).toMatch(/^# TYPE bimamba_requests_total counter$/m);
    expect(value('requests_total')).toBeGreaterThanOrEqual(2);
    expect(value('generated_tokens_total')).toBeGreaterThanOrEqual(6);
    expect(value('prompt_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(value('prompt_cache_tokens_saved_total')).toBeGreaterThan(0);
    expect(value('requests_running')).toBe(0);
    expect(value('prompt_cache_bytes')).toBeGreaterThan(0);
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) bimamba_\w+ .+|bimamba_\w+ \d+(\.\d+)?)$/);
  });
});
