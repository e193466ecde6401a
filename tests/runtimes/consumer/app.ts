// A consumer's TypeScript program using every documented API of the installed package. It is
// type-checked under `strict` in a scratch project, then run in Node (compiled) and Deno (as is);
// it prints one JSON line that must be the same in both (times left out).
import { readFile } from 'node:fs/promises';
import {
  BimambaError, compileCore, defaultModelUrl, GENERATION_DEFAULTS, loadModel, loadTokenizer, snapshotSize,
  type Completion, type ErrorCode, type FinishReason, type GeneratedToken, type GenerateOptions, type LoadOptions,
  type ModelConfig, type ModelSource, type Session, type TokenLogprob, type Tokenizer, type Usage,
} from 'bimamba';
import { createApp, type AppOptions } from 'bimamba/server';

const out: Record<string, unknown> = {};

// The built-in model, with load progress.
let last = { loaded: 0, total: 0 };
const loadOptions: LoadOptions = { onProgress: (p) => (last = p), threads: 1 };
const model = await loadModel(undefined, loadOptions);
out.progress = last.loaded === last.total && last.total > 0;
const config: ModelConfig = model.config;
out.arch = config.arch;
out.defaults = GENERATION_DEFAULTS;

// Streaming, with the metadata of the last item and log-probabilities.
const options: GenerateOptions = { maxTokens: 12, seed: 1, logprobs: 3, stop: ['\n\n'] };
const streamed: GeneratedToken[] = [];
for await (const item of model.generate('The history of the world', options)) streamed.push(item);
const end = streamed[streamed.length - 1];
const reason: FinishReason | undefined = end.finishReason;
const usage: Usage | undefined = end.usage;
const top: TokenLogprob[] = streamed[0].topLogprobs ?? [];
out.streamed = { text: streamed.map((t) => t.text).join(''), reason, generated: usage?.generatedTokens, top: top.map((t) => t.token) };

// The whole text at once; an abort that finishes with the partial result.
const done: Completion = await model.complete('In the beginning', { maxTokens: 8, temperature: 0 });
out.complete = { text: done.text, tokens: done.tokens, reason: done.finishReason };
const stopped = await model.complete('Once', { signal: AbortSignal.abort(), abort: 'finish' });
out.aborted = stopped.finishReason;

// Sessions: feed, fork, snapshot and restore.
const session: Session = model.createSession();
const tokenizer: Tokenizer = model.tokenizer!;
session.feed(tokenizer.encode('And God said'));
const snap = session.snapshot();
out.snapshot = snap.length === snapshotSize(model.stateBytes);
const again = model.restoreSession(snap);
const fork = session.fork();
const a = await model.complete([], { session: again, maxTokens: 6, temperature: 0 });
const b = await model.complete([], { session: fork, maxTokens: 6, temperature: 0 });
out.sessions = a.text === b.text;
for (const s of [session, again, fork]) s.dispose();
out.logits = model.logits([1, 2, 3]).length === 3 * model.vocabSize;

// Other sources: a Blob of the same file, a URL; a standalone tokenizer; the WASM core compiled once.
const url = defaultModelUrl();
const bytes = await readFile(url);
const source: ModelSource = new Blob([bytes]);
const fromBlob = await loadModel(source, { wasm: await compileCore() });
out.blob = (await fromBlob.complete('In the beginning', { maxTokens: 8, temperature: 0 })).text === done.text;
fromBlob.dispose();
const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)); // safetensors: 8 bytes, then JSON
const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
const standalone: Tokenizer = loadTokenizer(header.__metadata__.tokenizer);
out.tokenizer = standalone.decode(standalone.encode('light')) === 'light';

// Errors are BimambaErrors with a code.
try {
  await model.complete('x', { maxTokens: '5' as unknown as number });
} catch (e) {
  const code: ErrorCode | null = e instanceof BimambaError ? e.code : null;
  out.error = [code, (e as Error).message];
}
// The HTTP app over the same model (a Model from 'bimamba' is what 'bimamba/server' takes), under its
// default model name.
const appOptions: AppOptions = { model };
const app = createApp(appOptions);
const listed = (await (await app.fetch(new Request('http://local/v1/models'))).json()) as { data: { id: string }[] };
const answer = await app.fetch(new Request('http://local/v1/completions', {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'default', prompt: 'In the beginning', max_tokens: 8, temperature: 0 }),
}));
const completion = (await answer.json()) as { choices: { text: string }[] };
out.server = { models: listed.data.map((m) => m.id), status: answer.status, same: completion.choices[0].text === done.text };

model.dispose();
console.log(JSON.stringify(out));
