// `bimamba serve`'s hardening flags, as a user starts it: keys from flags and the environment, the Host
// check against the listen address, `--max-waiting 0`, `--redis` with `--sessions` refused, and what
// Ctrl-C says while streams are open.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { CLI, startServe, waitForLine } from './serve.js';

const body = (extra: Record<string, unknown>) => JSON.stringify({ model: 'default', prompt: 'Once upon a time', max_tokens: 4, ...extra });

function request(url: string, payload: string, headers: Record<string, string> = {}): Promise<{ status: number; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => resolve({ status: res.statusCode!, res }));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('bimamba serve flags', () => {
  it('refuses --redis together with --sessions (exit 2, before anything loads)', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--redis', 'redis://127.0.0.1:1', '--sessions', 'x'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--redis and --sessions/);
  });

  it('--api-key and BIMAMBA_API_KEY: the openai client with either key is served, a wrong one gets AuthenticationError', { timeout: 60_000 }, async () => {
    process.env.BIMAMBA_API_KEY = 'env-key-000000';
    let served;
    try {
      served = await startServe(['--api-key', 'flag-key-00000']);
    } finally {
      delete process.env.BIMAMBA_API_KEY;
    }
    try {
      for (const apiKey of ['flag-key-00000', 'env-key-000000']) {
        const c = new OpenAI({ baseURL: `${served.url}/v1`, apiKey, maxRetries: 0 });
        expect((await c.completions.create({ model: 'default', prompt: 'The king', max_tokens: 2 })).usage?.completion_tokens).toBe(2);
      }
      const wrong = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'guess', maxRetries: 0 });
      await expect(wrong.completions.create({ model: 'default', prompt: 'x', max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      expect((await fetch(`${served.url}/health`)).status).toBe(200);
    } finally {
      await served.stop();
    }
  });

  it('answers only to its own Host names by default, and to --host-allow ones', { timeout: 60_000 }, async () => {
    const served = await startServe(['--host-allow', 'bimamba.test']);
    try {
      expect((await request(served.url, body({}), { host: 'rebind.attacker.example' })).status).toBe(403);
      expect((await request(served.url, body({}), { host: 'bimamba.test:8080' })).status).toBe(200);
      expect((await request(served.url, body({}), { host: 'localhost' })).status).toBe(200);
    } finally {
      await served.stop();
    }
  });

  it('--max-waiting 0: nothing queues, a second request gets 503 at once; Ctrl-C says it waits for the open stream', { timeout: 60_000 }, async () => {
    const served = await startServe(['--max-active', '1', '--max-waiting', '0']);
    try {
      const first = await request(served.url, body({ max_tokens: 4000, stream: true }));
      expect(first.status).toBe(200);
      first.res.on('data', () => {});
      const second = await request(served.url, body({}));
      expect(second.status).toBe(503);
      served.service.child.kill('SIGINT');
      await waitForLine(served.service, /stopping; waiting for 1 open connection/, 10_000);
      served.service.child.kill('SIGINT'); // again: at once
      await waitForLine(served.service, /stopping now/, 10_000);
      const code = await new Promise<number | null>((r) => (served.service.child.exitCode !== null ? r(served.service.child.exitCode) : served.service.child.once('exit', (c) => r(c))));
      expect(code).toBe(130);
      first.res.destroy();
    } finally {
      await served.stop();
    }
  });
});
