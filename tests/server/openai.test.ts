// `bimamba serve` answers the official `openai` npm client, streaming and not, with the library's own
// greedy text; sampling fields reach the sampler (same seed, same text); errors name the field; a named
// session continues where it stopped, parked between requests, with the text of one unparked session.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../runtimes/hosts.js';
import { DIST, OUT } from '../runtimes/model.js';
import { CLI, client, DEFAULT_MODEL, libraryChat, libraryConversation, libraryText, startServe, type Served } from './serve.js';

const PROMPT = 'Once upon a time';

let served: Served;
let openai: OpenAI;
beforeAll(async () => {
  served = await startServe([]);
  openai = client(served.url);
});
afterAll(async () => {
  await served?.stop();
});

/** OpenAI's error, as the client hands it over. */
async function apiError(request: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await request;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error('the request succeeded');
}

describe('bimamba serve with the openai client', () => {
  it('lists its one model', async () => {
    const models = [];
    for await (const m of openai.models.list()) models.push(m);
    expect(models.map((m) => m.id)).toEqual(['default']);
    expect((await fetch(`${served.url}/health`).then((r) => r.json())).status).toBe('ok');
  });

  it('completes with the library greedy text, with usage and finish_reason', async () => {
    const expected = await libraryText(DEFAULT_MODEL, PROMPT, 24);
    const r = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 24, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0].text).toBe(expected);
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 24 });
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + 24);
  });

  it('streams the same text chunk by chunk, then usage, when asked', async () => {
    const expected = await libraryText(DEFAULT_MODEL, PROMPT, 24);
    const stream = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const texts = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].text);
    expect(texts.length).toBeGreaterThan(10); // one chunk per token, not one buffered body
    expect(texts.join('')).toBe(expected);
    const withText = chunks.filter((c) => c.choices.length);
    expect(withText.at(-1)!.choices[0].finish_reason).toBe('length');
    expect(withText.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(24);
  });

  it('passes the sampling fields on: same seed and settings, the library text', async () => {
    const { loadModel } = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../../src/index.js');
    const model = await loadModel(DEFAULT_MODEL);
    let expected = '';
    for await (const t of model.generate(PROMPT, { maxTokens: 32, temperature: 0.9, topK: 40, topP: 0.9, minP: 0.02, repetitionPenalty: 1.2, seed: 7 })) expected += t.text;
    model.dispose();
    const body = { model: 'default', prompt: PROMPT, max_tokens: 32, temperature: 0.9, top_p: 0.9, seed: 7, top_k: 40, min_p: 0.02, repetition_penalty: 1.2 };
    const r = await openai.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    expect(r.choices[0].text).toBe(expected);
    const other = await openai.completions.create({ ...body, seed: 8 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(other.choices[0].text).not.toBe(expected);
  });

  it('reports the library logprobs, streaming and not', async () => {
    const { loadModel } = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../../src/index.js');
    const model = await loadModel(DEFAULT_MODEL);
    const expected = [];
    for await (const t of model.generate(PROMPT, { maxTokens: 8, temperature: 0, logprobs: 3 })) expected.push(t);
    model.dispose();
    const r = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 3 });
    const lp = r.choices[0].logprobs!;
    expect(lp.token_logprobs).toEqual(expected.map((t) => t.logprob));
    expect(lp.top_logprobs!.map((top) => Object.values(top!))).toEqual(expected.map((t) => [...new Map(t.topLogprobs!.map((x) => [x.text, x.logprob])).values()]));
    expect(lp.text_offset![1]).toBe(expected[0].text.length);
    const stream = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 0, stream: true });
    const streamed: number[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    expect(streamed).toEqual(expected.map((t) => t.logprob));
    const plain = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 2, temperature: 0 });
    expect(plain.choices[0].logprobs).toBeNull();
  });

  it('stops at a stop string, which it does not return, with finish_reason stop', async () => {
    const full = await libraryText(DEFAULT_MODEL, PROMPT, 24);
    const stop = full.slice(full.indexOf(' ', 4), full.indexOf(' ', 4) + 4); // a few characters from inside the text
    const r = await openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 24, temperature: 0, stop: [stop] });
    expect(r.choices[0].text).toBe(full.slice(0, full.indexOf(stop)));
    expect(r.choices[0].finish_reason).toBe('stop');
  });

  it('answers chat.completions, streamed and not, and embeddings.create with the library results', async () => {
    const messages = [{ role: 'system' as const, content: 'You tell stories.' }, { role: 'user' as const, content: 'Tell me about the king.' }];
    const lib = await libraryChat(DEFAULT_MODEL, messages, 16, PROMPT);
    const r = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 16, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: lib.reply });
    expect(r.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    const stream = await openai.chat.completions.create({ model: 'default', messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(lib.reply);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(r.usage!.completion_tokens);
    // the next turn re-sends the conversation: only the new messages are read
    const next = await openai.chat.completions.create({ model: 'default', messages: [...messages, r.choices[0].message, { role: 'user', content: 'And then?' }], max_tokens: 4, temperature: 0 });
    expect(next.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(r.usage!.prompt_tokens - 8); // all but the generation prompt
    const e = await openai.embeddings.create({ model: 'default', input: PROMPT });
    expect(Float32Array.from(e.data[0].embedding)).toEqual(lib.embedding);
    const tools = await apiError(openai.chat.completions.create({ model: 'default', messages, tools: [{ type: 'function', function: { name: 'f' } }] }));
    expect(tools.status).toBe(400);
    expect(tools.message).toMatch(/tool/);
  });

  it('refuses unknown and invalid fields with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ temperature: 3 }, 'temperature'],
      [{ max_tokens: -1 }, 'max_tokens'],
      [{ max_tokens: 1.5 }, 'max_tokens'],
      [{ top_p: 0 }, 'top_p'],
      [{ n: 2 }, 'n'],
      [{ stop: [1] }, 'stop'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty'],
      [{ stream: 'yes' }, 'stream'],
      [{ temprature: 0 }, 'temprature'],
      [{ session: '../../etc/passwd' }, 'session'],
      [{ prompt: [1, -2] }, 'prompt'],
      [{ prompt: [999999] }, 'prompt'], // a token id outside the vocabulary
      [{ prompt: '' }, 'prompt'], // nothing to continue from
    ];
    for (const [fields, param] of cases) {
      const e = await apiError(openai.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 4, ...fields } as OpenAI.CompletionCreateParamsNonStreaming));
      expect(e.status, JSON.stringify(fields)).toBe(400);
      expect((e.error as { param: string }).param, JSON.stringify(fields)).toBe(param);
      expect(e.message).toMatch(param === 'prompt' ? /prompt|token|vocab/i : new RegExp(param.replace(/_/g, '.')));
    }
    const missing = await apiError(openai.completions.create({ model: 'gpt-4', prompt: PROMPT }));
    expect(missing.status).toBe(404);
    expect((missing.error as { param: string }).param).toBe('model');
  });

  it('continues a named session where it stopped, as one unparked library session does', async () => {
    const turns = [
      { prompt: 'The king said', maxTokens: 12 },
      { prompt: ' Then the queen', maxTokens: 12 },
      { prompt: '', maxTokens: 12 }, // an empty prompt just goes on
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const got: string[] = [];
    for (const [i, turn] of turns.entries()) {
      // the field and the header name the same session
      const r = await openai.completions.create(
        { model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, ...(i === 1 ? {} : { session: 'story-1' }) } as OpenAI.CompletionCreateParamsNonStreaming,
        i === 1 ? { headers: { 'bimamba-session': 'story-1' } } : undefined,
      );
      got.push(r.choices[0].text);
    }
    expect(got).toEqual(expected);
    // a session that was never named is a fresh start: same text as a fresh library session
    const fresh = await openai.completions.create({ model: 'default', prompt: ' Then the queen', max_tokens: 12, temperature: 0, session: 'story-2' } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(fresh.choices[0].text).toBe(await libraryText(DEFAULT_MODEL, ' Then the queen', 12));
  });
});

describe('bimamba serve --sessions DIR', () => {
  const dir = join(OUT, 'server', 'sessions');
  it('parks sessions as files there, which a restarted server continues', async () => {
    rmSync(dir, { recursive: true, force: true });
    const turns = [
      { prompt: 'And the LORD said', maxTokens: 10 },
      { prompt: ' unto Moses', maxTokens: 10 },
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const first = await startServe(['--sessions', dir]);
    const a = await client(first.url).completions.create({ model: 'default', prompt: turns[0].prompt, max_tokens: 10, temperature: 0, session: 'moses' } as OpenAI.CompletionCreateParamsNonStreaming);
    await first.stop();
    // the session's file, and the prompt cache's entries beside it (the same store, keys that never meet)
    const files = readdirSync(dir).filter((f) => f.endsWith('.bmss'));
    expect(files.filter((f) => !f.includes('-pc-'))).toEqual([expect.stringMatching(/^[0-9a-f]{8}\.moses\.bmss$/)]);
    expect(files.filter((f) => f.includes('-pc-')).length).toBeGreaterThan(0);
    const second = await startServe(['--sessions', dir]);
    try {
      const b = await client(second.url).completions.create({ model: 'default', prompt: turns[1].prompt, max_tokens: 10, temperature: 0, session: 'moses' } as OpenAI.CompletionCreateParamsNonStreaming);
      expect([a.choices[0].text, b.choices[0].text]).toEqual(expected);
    } finally {
      await second.stop();
    }
  });
});

describe('bimamba serve as a command', () => {
  it.each([['SIGINT', 130], ['SIGTERM', 0]] as const)('stops on %s with exit code %i', async (signal, code) => {
    const s = await startServe([]);
    const exited = new Promise<number | null>((resolve) => s.service.child.once('exit', (c) => resolve(c)));
    s.service.child.kill(signal);
    expect(await exited).toBe(code);
  });

  it('refuses a bad flag and a missing model file with a clear message', async () => {
    const port = await run(process.execPath, [CLI, 'serve', '--port', 'eighty']);
    expect(port.code).not.toBe(0);
    expect(port.stderr).toMatch(/'eighty' is not a number/);
    const missing = await run(process.execPath, [CLI, 'serve', '--model', join(OUT, 'no-such.bimamba'), '--port', '0']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such\.bimamba/);
  });
});
