// Two `bimamba serve` processes parking sessions in one real Redis (Debian's redis-server on a free
// loopback port, nothing saved to disk): a conversation started on one and continued on the other, turn
// by turn, gives the text of one unparked library session.
import { existsSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, need, shouldRun, startService, waitForPort, type Service } from '../runtimes/hosts.js';
import { client, DEFAULT_MODEL, libraryConversation, startServe, type Served } from './serve.js';

const REDIS = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
const HOW = "Debian's redis-server: apt-get install redis-server";

describe.runIf(shouldRun('redis-server', REDIS, HOW))('two servers on one Redis', () => {
  let redis: Service;
  const servers: Served[] = [];
  beforeAll(async () => {
    const port = await freePort();
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
});
