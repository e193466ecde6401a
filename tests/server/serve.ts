// What the server tests share: `bimamba serve` started as users start it (the built CLI in a child
// process, on a free loopback port), an OpenAI client pointed at it, and the library's own text for the
// same requests, which every server answer must equal.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { startService, type Service } from '../runtimes/hosts.js';
import { DIST, ROOT } from '../runtimes/model.js';

export const CLI = join(ROOT, 'dist', 'cli.js');
export const DEFAULT_MODEL = join(ROOT, 'models', 'default.bimamba');

export interface Served {
  service: Service;
  url: string; // http://127.0.0.1:PORT
  stop(): Promise<void>;
}

/** Wait until `service` prints a line matching `pattern`, or fail with its output. */
export async function waitForLine(service: Service, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const m = pattern.exec(service.output());
    if (m) return m;
    if (service.child.exitCode !== null) throw new Error(`the server exited early:\n${service.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${service.output()}`);
}

/** `bimamba serve --port 0 ARGS...` in a child Node process; resolves once it listens. */
export async function startServe(args: string[]): Promise<Served> {
  const service = startService(process.execPath, ['--max-old-space-size=512', CLI, 'serve', '--port', '0', ...args]);
  const m = await waitForLine(service, /on (http:\/\/127\.0\.0\.1:\d+)\/v1/);
  return { service, url: m[1], stop: () => service.stop() };
}

export function client(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
}

export interface Turn {
  prompt: string;
  maxTokens: number;
}

/**
 * The library's greedy text for a conversation, in one session that is never parked: each turn feeds its
 * prompt after everything before it (BOS only at the start), as the server does for a named session.
 */
export async function libraryConversation(modelPath: string, turns: Turn[]): Promise<string[]> {
  const { loadModel } = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../../src/index.js');
  const model = await loadModel(modelPath);
  try {
    const session = model.createSession();
    const texts: string[] = [];
    for (const [i, turn] of turns.entries()) {
      let text = '';
      const options = { maxTokens: turn.maxTokens, temperature: 0, session, ...(i > 0 ? { addBos: false } : {}) };
      for await (const t of model.generate(turn.prompt, options)) text += t.text;
      texts.push(text);
    }
    return texts;
  } finally {
    model.dispose();
  }
}

/** The library's greedy text for one prompt in a fresh session. */
export async function libraryText(modelPath: string, prompt: string, maxTokens: number): Promise<string> {
  return (await libraryConversation(modelPath, [{ prompt, maxTokens }]))[0];
}

/** The library's greedy chat reply and the embedding of `embedText`, from the built package. */
export async function libraryChat(modelPath: string, messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>, maxTokens: number, embedText: string): Promise<{ reply: string; embedding: Float32Array }> {
  const { loadModel } = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../../src/index.js');
  const model = await loadModel(modelPath);
  try {
    const reply = (await model.completeChat(messages, { maxTokens, temperature: 0 })).text;
    return { reply, embedding: model.embed(embedText) };
  } finally {
    model.dispose();
  }
}
