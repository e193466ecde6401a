// Two `bimamba serve` processes parking sessions in one real Redis (Debian's redis-server on a free
// loopback port, nothing saved to disk): a conversation started on one and continued on the other, turn
// by turn, gives the text of one unparked library session; two continuations of one session at the same
// moment: the second to finish gets a 409 and the session keeps the first.
import { existsSync } from 'node:fs';
import OpenAI from 'openai';
import { createClient } from 'redis';
import { RedisStore } from '../../src/server/redis-store.js';
import { rejection } from '../util/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, need, shouldRun, startService, waitForPort, type Service } from '../runtimes/hosts.js';
import { client, DEFAULT_MODEL, libraryConversation, startServe, type Served } from './serve.js';

const REDIS = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
const HOW = "Debian's redis-server: apt-get install redis-server";

describe.runIf(shouldRun('redis-server', REDIS, HOW))('two servers on one Redis', () => {
  let redis: Service;
  let port: number;
  const servers: Served[] = [];
  beforeAll(async () => {
    port = await freePort();
    redis = startService(need('redis-server', REDIS, HOW), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitForPort(port, redis);
    for (let i = 0; i < 2; i++) servers.push(await startServe(['--redis', `redis://127.0.0.1:${port}`]));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
  });

  it('continue each other’s sessions with the tokens of one server alone', async () => {
    const turns = [
      { prompt: 'The king said', maxTokens: 10 },
      { prompt: ' And the queen', maxTokens: 10 },
      { prompt: ' Then', maxTokens: 10 },
      { prompt: '', maxTokens: 10 },
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const got: string[] = [];
    for (const [i, turn] of turns.entries()) {
      const server = servers[i % 2]; // A, B, A, B
      const r = await client(server.url).completions.create({
        model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, session: 'shared-1',
      } as OpenAI.CompletionCreateParamsNonStreaming);
      got.push(r.choices[0].text);
    }
    expect(got).toEqual(expected);
  });

  it('streams on one and continues on the other', async () => {
    const turns = [
      { prompt: 'And the LORD spake', maxTokens: 12 },
      { prompt: ' unto Moses', maxTokens: 12 },
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const stream = await client(servers[1].url).completions.create({ model: 'default', prompt: turns[0].prompt, max_tokens: 12, temperature: 0, stream: true, session: 'shared-2' } as OpenAI.CompletionCreateParamsStreaming);
    let first = '';
    for await (const chunk of stream) first += chunk.choices[0]?.text ?? '';
    const second = await client(servers[0].url).completions.create({ model: 'default', prompt: turns[1].prompt, max_tokens: 12, temperature: 0, session: 'shared-2' } as OpenAI.CompletionCreateParamsNonStreaming);
    expect([first, second.choices[0].text]).toEqual(expected);
  });

  it('a continuation saved after another server saved the same session is refused with a 409', async () => {
    const turns = [
      { prompt: 'The king said', maxTokens: 6 },
      { prompt: ' unto the people', maxTokens: 6 }, // the continuation saved first
      { prompt: ' Then', maxTokens: 6 },
    ];
    const expected = await libraryConversation(DEFAULT_MODEL, turns);
    const [a, b] = servers.map((s) => client(s.url));
    const ask = (c: OpenAI, turn: { prompt: string; maxTokens: number }) =>
      c.completions.create({ model: 'default', prompt: turn.prompt, max_tokens: turn.maxTokens, temperature: 0, session: 'race' } as OpenAI.CompletionCreateParamsNonStreaming);
    expect((await ask(a, turns[0])).choices[0].text).toBe(expected[0]);
    // A continues the session in a long stream; while it runs, B continues the same parked state and saves
    const long = await a.completions.create({ model: 'default', prompt: ' Long ago', max_tokens: 1500, temperature: 0, stream: true, session: 'race' } as OpenAI.CompletionCreateParamsStreaming);
    const chunks = long[Symbol.asyncIterator]();
    await chunks.next(); // A has read the session and is generating
    expect((await ask(b, turns[1])).choices[0].text).toBe(expected[1]);
    let failure: unknown = null;
    try {
      for (let r = await chunks.next(); !r.done; r = await chunks.next());
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: 'session_conflict', param: 'session' });
    // the session is as B left it
    expect((await ask(a, turns[2])).choices[0].text).toBe(expected[2]);
  }, 60_000);

  it('RedisStore writes only over the value it read, atomically', async () => {
    const connection = createClient({ url: `redis://127.0.0.1:${port}` });
    await connection.connect();
    try {
      const [one, two] = [new RedisStore(connection, { prefix: 'test:' }), new RedisStore(connection, { prefix: 'test:' })];
      await one.set('k', new Uint8Array([1, 2, 3]), null); // new
      expect((await rejection(two.set('k', new Uint8Array([9]), null))).code).toBe('CONFLICT'); // not new any more
      const readByOne = await one.get('k');
      const readByTwo = await two.get('k');
      expect(Array.from(readByTwo!)).toEqual([1, 2, 3]);
      await two.set('k', new Uint8Array([4, 5]), readByTwo);
      expect((await rejection(one.set('k', new Uint8Array([6]), readByOne))).code).toBe('CONFLICT');
      expect(Array.from((await one.get('k'))!)).toEqual([4, 5]);
      expect((await rejection(one.set('k', new Uint8Array([6]), new Uint8Array([4, 5])))).code).toBe('BAD_ARGUMENT'); // not from get()
      await one.set('k', new Uint8Array([7])); // no `replacing`: replaces whatever is there
      expect(Array.from((await two.get('k'))!)).toEqual([7]);
      await one.delete('k');
      expect(await one.get('k')).toBeNull();
    } finally {
      await connection.quit();
    }
  });

  it('every session key expires: a default of one day, --session-ttl in serve', async () => {
    const connection = createClient({ url: `redis://127.0.0.1:${port}` });
    await connection.connect();
    const served = await startServe(['--redis', `redis://127.0.0.1:${port}`, '--session-ttl', '120']);
    try {
      await new RedisStore(connection, { prefix: 'ttl:' }).set('k', new Uint8Array([1]));
      const day = await connection.ttl('ttl:k');
      expect(day).toBeGreaterThan(86_000);
      expect(day).toBeLessThanOrEqual(86_400);
      await client(served.url).completions.create({ model: 'default', prompt: 'The king', max_tokens: 2, session: 'ttl-session' } as OpenAI.CompletionCreateParamsNonStreaming);
      const keys = await connection.keys('bimamba:session:*.ttl-session');
      expect(keys.length).toBe(1);
      const ttl = await connection.ttl(keys[0]);
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    } finally {
      await served.stop();
      await connection.quit();
    }
  });
});
