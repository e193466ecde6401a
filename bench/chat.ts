// The prompt cache on a conversation: `npm run bench:chat [-- --turns 10] [--message-tokens 200] [--reply-tokens 16] [--threads N] [--model FILE]`.
// A chat client that re-sends the whole history every turn, through the `openai` client's
// chat.completions (streamed), against the built `bimamba serve` with the prompt cache on
// (--prompt-cache 256) and then off (--prompt-cache 0), on the synthetic Bi-Mamba 780M
// (tests/util/synthetic-model.ts, here with the built-in model's tokenizer embedded, cached in
// .cache/bench) unless --model is given. Each turn a new user message of about --message-tokens tokens;
// the reply (--reply-tokens, greedy) joins the history as the client got it. Per turn: time to first
// token and the prompt tokens the server read (prompt_tokens - cached_tokens). Checks that both servers
// give the same tokens (logprobs) every turn. Prints each turn as it ends, and the machine's load average:
// on a shared machine the figures mean something only next to it. Bounded to --max-minutes (default 30).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { ensureSyntheticModel, MODELS } from '../tests/util/synthetic-model.js';

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const turns = Number(option('--turns') ?? 10);
const messageTokens = Number(option('--message-tokens') ?? 200);
const replyTokens = Number(option('--reply-tokens') ?? 16);
const threads = option('--threads') ?? 'auto';
if (!(turns >= 1 && turns <= 50 && messageTokens >= 1 && messageTokens <= 2000 && replyTokens >= 1 && replyTokens <= 256)) throw new Error('--turns in [1, 50], --message-tokens in [1, 2000], --reply-tokens in [1, 256]');
const root = fileURLToPath(new URL('..', import.meta.url));
const maxMinutes = Number(option('--max-minutes') ?? 30);
setTimeout(() => {
  console.error(`bench:chat: over ${maxMinutes} minutes, stopping`);
  process.exit(1);
}, maxMinutes * 60_000).unref();

let model = option('--model');
if (!model) {
  model = `${root}.cache/bench/bimamba-780m-chat.bimamba`;
  await ensureSyntheticModel(MODELS['bimamba-780m'], model, (m) => console.log(`  ${m}`), builtInTokenizer());
}

/** The built-in model's tokenizer.json (its vocabulary fits the synthetic model's). */
function builtInTokenizer(): string {
  const file = readFileSync(`${root}models/default.bimamba`);
  const headerBytes = Number(file.readBigUInt64LE(0));
  return JSON.parse(file.subarray(8, 8 + headerBytes).toString('utf8')).__metadata__.tokenizer;
}

const WORDS = 'the king had three sons who rode out across the hills to find a river of gold and a bird that sang at night'.split(' ');
/** A user message of about `n` tokens (words of one or two tokens), different each turn. */
const messageOf = (turn: number, n: number) => Array.from({ length: Math.round(n * 0.75) }, (_, i) => WORDS[(turn * 13 + i * 7) % WORDS.length]).join(' ');

interface Turn { ttftMs: number; promptTokens: number; read: number; logprobs: number[] }

async function conversation(cacheMiB: number): Promise<Turn[]> {
  const server = spawn(process.execPath, [`${root}dist/cli.js`, 'serve', '--model', model!, '--name', 'bench', '--port', '0', '--threads', threads, '--no-verify', '--prompt-cache', String(cacheMiB)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => server.kill('SIGKILL');
  process.on('exit', stop);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.once('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    });
    const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'A long conversation about a story.' }];
    const out: Turn[] = [];
    for (let turn = 0; turn < turns; turn++) {
      messages.push({ role: 'user', content: messageOf(turn, messageTokens) });
      const t0 = performance.now();
      let ttftMs = 0;
      const logprobs: number[] = [];
      let reply = '';
      let usage: OpenAI.CompletionUsage | undefined;
      const s = await client.chat.completions.create({ model: 'bench', messages, max_tokens: replyTokens, temperature: 0, logprobs: true, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of s) {
        const lp = chunk.choices[0]?.logprobs?.content ?? [];
        if (lp.length && !ttftMs) ttftMs = performance.now() - t0;
        logprobs.push(...lp.map((x) => x.logprob));
        reply += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
      out.push({ ttftMs, promptTokens: usage!.prompt_tokens, read: usage!.prompt_tokens - cached, logprobs });
      console.log(`  cache ${cacheMiB ? 'on ' : 'off'} turn ${turn + 1}: ${usage!.prompt_tokens} prompt tokens, ${usage!.prompt_tokens - cached} read, TTFT ${ttftMs.toFixed(0)} ms`);
      messages.push({ role: 'assistant', content: reply });
    }
    return out;
  } finally {
    stop();
    process.off('exit', stop);
  }
}

const load0 = loadavg();
console.log(`bench:chat: ${turns} turns, ${messageTokens}-token messages, ${replyTokens}-token replies, ${model.split('/').pop()}, threads ${threads}; ${cpus().length} cores, load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
const on = await conversation(256);
const off = await conversation(0);
const same = on.every((t, i) => t.logprobs.length === off[i].logprobs.length && t.logprobs.every((x, k) => x === off[i].logprobs[k]));
console.log('\n| turn | prompt tokens | read, cache on | TTFT on (ms) | read, cache off | TTFT off (ms) |\n| ---: | ---: | ---: | ---: | ---: | ---: |');
for (let i = 0; i < turns; i++) console.log(`| ${i + 1} | ${on[i].promptTokens} | ${on[i].read} | ${on[i].ttftMs.toFixed(0)} | ${off[i].read} | ${off[i].ttftMs.toFixed(0)} |`);
const ratio = (t: Turn[]) => t[turns - 1].ttftMs / t[0].ttftMs;
console.log(`\nturn ${turns} TTFT / turn 1 TTFT: cache on ${ratio(on).toFixed(2)}x, cache off ${ratio(off).toFixed(2)}x; same tokens and logprobs on and off: ${same}`);
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (!same) process.exitCode = 1;
