// /v1/chat/completions in this process (app.fetch), through the official `openai` client: the library's
// own chat text and logprobs, streamed and not; every refusal names its field; hostile templates and
// messages get a clear 4xx in bounded time; and the prompt cache gives exactly the answers of a server
// without it (greedy and seeded), reporting the tokens it did not read.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { chatPrompt } from '../../src/chat/chat.js';
import { chatTemplateOf, type ChatMessage } from '../../src/chat/template.js';
import { createApp, type AppOptions } from '../../src/server/app.js';
import { MemoryStore } from '../../src/server/store.js';
import { WASM_URL } from '../util/wasm.js';
import { DEFAULT_MODEL } from './serve.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, { threads: 1, wasm: WASM_URL });
});
afterAll(() => model?.dispose());

/** An openai client whose requests go to `app.fetch` in this process. */
function clientOf(options: Partial<AppOptions> = {}): { openai: OpenAI; app: ReturnType<typeof createApp> } {
  const app = createApp({ model, modelName: 'default', ...options });
  const openai = new OpenAI({ baseURL: 'http://local/v1', apiKey: 'unused', maxRetries: 0, fetch: async (url, init) => app.fetch(new Request(url, init)) });
  return { openai, app };
}

async function apiError(request: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await request;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('the request succeeded');
}

const CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are a storyteller.' },
  { role: 'user', content: 'Tell me about the king.' },
];

describe('/v1/chat/completions', () => {
  it("answers with the library's completeChat text, usage and finish_reason", async () => {
    const { openai } = clientOf();
    const expected = await model.completeChat(CONVERSATION, { maxTokens: 20, temperature: 0 });
    const r = await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 20, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: expected.text });
    expect(r.choices[0].finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    const ids = chatPrompt(model, chatTemplateOf(null), CONVERSATION).ids;
    expect(r.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: expected.usage.generatedTokens });
    expect(expected.text.length).toBeGreaterThan(0);
  });

  it('streams the same text in chat.completion.chunk deltas, then usage, then [DONE]', async () => {
    const { openai } = clientOf();
    const expected = await model.completeChat(CONVERSATION, { maxTokens: 20, temperature: 0 });
    const stream = await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const text = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta.content ?? '').join('');
    expect(text).toBe(expected.text);
    expect(chunks.filter((c) => c.choices.length > 1 || (c.choices[0] && c.choices[0].delta.content)).length).toBeGreaterThan(3);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(expected.usage.generatedTokens);
    expect(chunks.at(-2)!.choices[0].finish_reason).not.toBeNull();
  });

  it('gives the library logprobs in the chat shape, and sampling fields reach the sampler', async () => {
    const { openai } = clientOf();
    const items = [];
    for await (const t of model.chat(CONVERSATION, { maxTokens: 6, temperature: 0, logprobs: 2 })) items.push(t);
    const r = await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = r.choices[0].logprobs!.content!;
    expect(content.map((c) => c.logprob)).toEqual(items.map((t) => t.logprob));
    expect(content.map((c) => c.top_logprobs.map((t) => t.logprob))).toEqual(items.map((t) => t.topLogprobs!.map((x) => x.logprob)));
    const sampled = await model.completeChat(CONVERSATION, { maxTokens: 16, temperature: 0.9, topK: 40, topP: 0.9, seed: 11 });
    const s = await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_completion_tokens: 16, temperature: 0.9, top_p: 0.9, seed: 11, top_k: 40 } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(s.choices[0].message.content).toBe(sampled.text);
  });

  it('takes text parts, the developer role and a returned assistant message', async () => {
    const { openai } = clientOf();
    const plain = await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 5, temperature: 0 });
    const parts = await openai.chat.completions.create({
      model: 'default', max_tokens: 5, temperature: 0,
      messages: [{ role: 'developer', content: 'You are a story' + 'teller.' }, { role: 'user', content: [{ type: 'text', text: 'Tell me about ' }, { type: 'text', text: 'the king.' }] }],
    });
    expect(parts.choices[0].message.content).toBe(plain.choices[0].message.content);
    const next = await openai.chat.completions.create({ model: 'default', max_tokens: 3, temperature: 0, messages: [...CONVERSATION, plain.choices[0].message, { role: 'user', content: 'More.' }] });
    expect(next.choices[0].message.role).toBe('assistant');
  });

  it('refuses tools, odd content parts and unknown or bad fields with a 400 naming the field', async () => {
    const { openai } = clientOf();
    const tool = { type: 'function' as const, function: { name: 'f', parameters: {} } };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tools: [tool] }, 'tools'],
      [{ tool_choice: 'auto' }, 'tool_choice'],
      [{ temprature: 0 }, 'temprature'],
      [{ temperature: 5 }, 'temperature'],
      [{ n: 3 }, 'n'],
      [{ max_completion_tokens: -1 }, 'max_completion_tokens'],
      [{ max_tokens: 3, max_completion_tokens: 4 }, 'max_completion_tokens'],
      [{ logprobs: 2 }, 'logprobs'],
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ logprobs: true, top_logprobs: 50 }, 'top_logprobs'],
      [{ messages: [] }, 'messages'],
      [{ messages: 'hi' }, 'messages'],
      [{ messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] }, 'messages[0].tool_call_id'],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
      [{ messages: [{ role: 'user' }] }, 'messages[0].content'],
      [{ messages: [{ role: 'user', content: 7 }] }, 'messages[0].content'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x' } }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [null] }] }, 'messages[0].content[0]'],
      [{ messages: [{ role: 'user', content: [[{ type: 'text', text: 'x' }]] }] }, 'messages[0].content[0]'],
      [{ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: {} }] }] }, 'messages[0].content[0].cache_control'],
      [{ messages: [{ role: 'user', content: 'x', colour: 'red' }] }, 'messages[0].colour'],
      [{ messages: [{ role: 'assistant', content: 'x', tool_calls: [{ id: 'a' }] }] }, 'messages[0].tool_calls'],
      [{ messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }, 'messages'],
      [{ messages: new Array(5000).fill({ role: 'user', content: 'x' }) }, 'messages'],
      [{ session: '../x' }, 'session'],
    ];
    for (const [fields, param] of cases) {
      const e = await apiError(openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 2, ...fields } as OpenAI.ChatCompletionCreateParamsNonStreaming));
      expect(e.status, JSON.stringify(fields).slice(0, 200)).toBe(400);
      expect((e.error as { param: string }).param, JSON.stringify(fields).slice(0, 200)).toBe(param);
    }
    expect((await apiError(openai.chat.completions.create({ model: 'gpt-4o', messages: CONVERSATION }))).status).toBe(404);
    // a server still answering afterwards
    expect((await openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 1 })).choices).toHaveLength(1);
  });

  it('answers a template that loops on these messages with a 400 in bounded time, and keeps serving', async () => {
    const { openai } = clientOf({ chatTemplate: '{% for m in messages %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endfor %}' });
    const t0 = performance.now();
    const e = await apiError(openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 2 }));
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(e.status).toBe(400);
    expect((e.error as { code: string }).code).toBe('template_error');
    expect(e.message).toMatch(/steps|ms/);
    const blowUp = clientOf({ chatTemplate: "{% set ns = namespace(s=messages[0].content) %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}" });
    expect((await apiError(blowUp.openai.chat.completions.create({ model: 'default', messages: CONVERSATION, max_tokens: 2 }))).message).toMatch(/string of \d+ characters/);
    expect(() => clientOf({ chatTemplate: '{% if %}' })).toThrow(/does not parse/);
  });
});

describe('a long conversation', () => {
  it('of 300 short messages is rendered and answered in bounded time (prefix renders give up after 2 s)', async () => {
    const { openai } = clientOf({ promptCache: null });
    const messages = Array.from({ length: 300 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: `m${i}` }));
    messages.push({ role: 'user', content: 'last' });
    const t0 = performance.now();
    const r = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 1, temperature: 0 });
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(300);
  }, 120_000);
});

describe('the prompt cache', () => {
  /** A conversation of `turns` turns, each re-sending the whole history, as chat clients do. */
  async function conversation(openai: OpenAI, turns: number, extra: Record<string, unknown>) {
    const messages: ChatMessage[] = [{ role: 'system', content: 'A story about a king and his three sons, told slowly.' }];
    const out = [];
    for (let i = 0; i < turns; i++) {
      messages.push({ role: 'user', content: `Part ${i + 1}, please. What did the ${['eldest', 'middle', 'youngest'][i % 3]} son do next?` });
      const r = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 12, logprobs: true, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      const content = r.choices[0].message.content ?? '';
      out.push({ content, logprobs: r.choices[0].logprobs!.content!.map((c) => c.logprob), usage: r.usage! });
      messages.push({ role: 'assistant', content });
    }
    return out;
  }

  for (const [what, extra] of [['greedy', { temperature: 0 }], ['seeded', { temperature: 0.8, seed: 5 }]] as const) {
    it(`gives exactly the tokens and logprobs of a server without it (${what}), reading only the new messages`, async () => {
      const off = await conversation(clientOf({ promptCache: null }).openai, 4, extra);
      const on = await conversation(clientOf({ promptCache: new MemoryStore(64 * 1024 * 1024) }).openai, 4, extra);
      expect(on.map((t) => t.content)).toEqual(off.map((t) => t.content));
      expect(on.map((t) => t.logprobs)).toEqual(off.map((t) => t.logprobs));
      expect(off.every((t) => t.usage.prompt_tokens_details!.cached_tokens === 0)).toBe(true);
      expect(on[0].usage.prompt_tokens_details!.cached_tokens).toBe(0);
      for (let i = 1; i < on.length; i++) {
        const cached = on[i].usage.prompt_tokens_details!.cached_tokens!;
        expect(on[i].usage.prompt_tokens).toBe(off[i].usage.prompt_tokens);
        expect(cached).toBeGreaterThanOrEqual(on[i - 1].usage.prompt_tokens - 8); // all but the generation prompt
        expect(cached).toBeLessThan(on[i].usage.prompt_tokens);
      }
    });
  }

  it('restores nothing from a prompt that only shares a prefix, and prefixes that collide never mix', async () => {
    const store = new MemoryStore(64 * 1024 * 1024);
    const cached = clientOf({ promptCache: store, store }).openai; // one store for sessions and cache: keys never meet
    const plain = clientOf({ promptCache: null }).openai;
    const a: ChatMessage[] = [{ role: 'user', content: 'The cat sat on the' }];
    const b: ChatMessage[] = [{ role: 'user', content: 'The cat sat on the mat and' }];
    for (const messages of [a, b, a, b]) {
      const x = await cached.chat.completions.create({ model: 'default', messages, max_tokens: 8, temperature: 0 });
      const y = await plain.chat.completions.create({ model: 'default', messages, max_tokens: 8, temperature: 0 });
      expect(x.choices[0].message.content).toBe(y.choices[0].message.content);
    }
    // a session may be named like anything; it never reads or writes a cache entry
    const s = await cached.chat.completions.create({ model: 'default', messages: a, max_tokens: 4, temperature: 0, session: 'pc' } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(s.choices).toHaveLength(1);
    const keys = [...(store as unknown as { entries: Map<string, Uint8Array> }).entries.keys()];
    expect(keys.some((k) => /^[0-9a-f]{8}\.pc$/.test(k))).toBe(true);
    expect(keys.filter((k) => k.includes('-pc-')).every((k) => /^[0-9a-f]{8}-pc-[a-z0-9]+-[0-9a-f]{64}$/.test(k))).toBe(true);
  });

  it('serves a completion prompt that extends an earlier one from its cut, with the text of no cache', async () => {
    const { openai } = clientOf();
    const plain = clientOf({ promptCache: null }).openai;
    const ids = Array.from({ length: 600 }, (_, i) => 100 + ((i * 37) % 900));
    const first = await openai.completions.create({ model: 'default', prompt: ids.slice(0, 520), max_tokens: 2, temperature: 0 });
    expect(first.usage!.prompt_tokens).toBe(520);
    const r = await openai.completions.create({ model: 'default', prompt: ids, max_tokens: 6, temperature: 0, logprobs: 1 });
    const p = await plain.completions.create({ model: 'default', prompt: ids, max_tokens: 6, temperature: 0, logprobs: 1 });
    expect((r.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details!.cached_tokens).toBe(512);
    expect(r.choices[0].text).toBe(p.choices[0].text);
    expect(r.choices[0].logprobs!.token_logprobs).toEqual(p.choices[0].logprobs!.token_logprobs);
  });
});

describe('the prompt cache and the repetition penalty', () => {
  it('gives the penalty the same recent tokens as a server without the cache', async () => {
    const on = clientOf({ promptCache: new MemoryStore(64 * 1024 * 1024) }).openai;
    const off = clientOf({ promptCache: null }).openai;
    const body = { model: 'default', prompt: 'Once upon a time there was a king', max_tokens: 16, temperature: 0.9, repetition_penalty: 1.3, seed: 3 };
    const first = await on.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    const again = await on.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming); // from the cache
    const plain = await off.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    expect((again.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details!.cached_tokens).toBe(again.usage!.prompt_tokens);
    expect(again.choices[0].text).toBe(plain.choices[0].text);
    expect(first.choices[0].text).toBe(plain.choices[0].text);
  });
});

describe('a streamed reply', () => {
  it('ends even when its last tokens are held back as a possible stop string (the default template stops at "\\nUser:")', async () => {
    const { openai } = clientOf();
    // greedy replies of the built-in model to this start with newlines, which "\nUser:" holds back
    const messages: ChatMessage[] = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about the king.' }];
    const expected = await model.completeChat(messages, { maxTokens: 16, temperature: 0 });
    const stream = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 16, temperature: 0, stream: true });
    let text = '';
    let finish = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(expected.text);
    expect(finish).toBe('length');
  });
});
