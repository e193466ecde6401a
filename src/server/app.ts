// The HTTP application: an OpenAI-compatible completions API on Hono, the same object in Node, Deno, Bun
// and Cloudflare Workers (each host only hands it requests: `app.fetch(request)`).
//
//   GET  /health           { status, model, running, waiting }
//   GET  /v1/models        the one model this server runs
//   POST /v1/completions   OpenAI's legacy completions, streamed as server-sent events with `stream: true`;
//                          a `session` field or `bimamba-session` header continues a parked conversation;
//                          `echo: true` returns the prompt with its tokens' logprobs (echo.ts)
//   POST /v1/chat/completions  OpenAI's chat completions (chat.ts)
//   POST /v1/embeddings    OpenAI's embeddings (embeddings.ts)
//   POST /tokenize, POST /detokenize, GET /tokenizer_info  the tokenizer (tokenize.ts)
//   GET  /metrics          Prometheus text (metrics.ts)
import type { Context } from 'hono';
import { Hono } from 'hono/tiny';
import { bodyLimit } from 'hono/body-limit';
import { BimambaError } from '../errors.js';
import type { FinishReason, GeneratedToken, Usage } from '../generate/generate.js';
import type { Model } from '../model/model.js';
import { chatTemplateOf } from '../chat/template.js';
import { DecodeBatcher } from './batcher.js';
import { registerChat } from './chat.js';
import { runCompletion, type CompletionInfo, type Engine } from './completion.js';
import { echoedPrompt } from './echo.js';
import { registerEmbeddings } from './embeddings.js';
import { registerMetrics } from './metrics.js';
import { registerTokenize } from './tokenize.js';
import { PromptCache } from './prompt-cache.js';
import { Busy, Gate, Locks } from './gate.js';
import { ApiError, parseCompletionRequest, type CompletionRequest } from './request.js';
import { MemoryStore, type SnapshotStore } from './store.js';

export interface AppOptions {
  /** The loaded model. The app does not dispose it. */
  model: Model;
  /** The model's id in /v1/models and the `model` field requests must name (default 'bimamba'). */
  modelName?: string;
  /** Where idle sessions are parked (default: a MemoryStore of 512 MiB). */
  store?: SnapshotStore;
  /** Completions generating at once, each with one live session (default 4). */
  maxActive?: number;
  /** Requests waiting for a turn; past that, 503 with Retry-After (default 16). */
  maxWaiting?: number;
  /** Largest max_tokens (default 4096). */
  maxTokens?: number;
  /** Longest prompt in characters or token ids (default 65536). */
  maxPromptLength?: number;
  /**
   * Where the prompt cache keeps its states (src/server/prompt-cache.ts); null turns it off. Default: a
   * MemoryStore of 64 MiB of its own. A store shared with the sessions' is fine: the keys never meet.
   */
  promptCache?: SnapshotStore | null;
  /** A Jinja chat template for /v1/chat/completions instead of the model file's (or the default one). */
  chatTemplate?: string;
}

const OPENAI_FINISH: Record<FinishReason, string> = { eos: 'stop', stop: 'stop', length: 'length', abort: 'stop' };

function positiveInteger(name: string, v: number): number {
  if (!(Number.isSafeInteger(v) && v > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ${name}: ${v} (a positive integer)`);
  return v;
}

function errorBody(e: ApiError) {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

/** What a failure inside generation means for the client. */
function apiErrorOf(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Busy) return new ApiError(503, `the server is busy (${e.message}); retry later`, null, 'server_error', 'busy');
  if (e instanceof BimambaError) {
    if (e.code === 'BAD_TOKEN' || e.code === 'BAD_ARGUMENT') return new ApiError(400, e.message, 'prompt');
    if (e.code === 'BAD_FORMAT') return new ApiError(409, `the session's parked state cannot be used: ${e.message}`, 'session');
    if (e.code === 'ABORTED') return new ApiError(499, 'the client closed the request'); // nobody reads it
    if (e.code === 'CONFLICT') {
      return new ApiError(409, 'another request continued this session at the same time and was saved first; this continuation was not saved (the session stays as that request left it)', 'session', 'invalid_request_error', 'session_conflict');
    }
    if (e.code === 'OUT_OF_MEMORY') return new ApiError(503, e.message, null, 'server_error', 'out_of_memory');
  }
  // not the client's doing: the operator needs to see it (the client gets no internals)
  console.error('bimamba serve: internal error:', e);
  return new ApiError(500, 'internal error', null, 'server_error');
}

function usageOf(u: Usage | undefined, cachedTokens = 0) {
  const prompt = u?.promptTokens ?? 0;
  const completion = u?.generatedTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cachedTokens } };
}

export function createApp(options: AppOptions): Hono {
  const { model } = options;
  const modelName = options.modelName ?? 'bimamba';
  const engine: Engine = {
    model,
    store: options.store ?? new MemoryStore(),
    gate: new Gate(positiveInteger('maxActive', options.maxActive ?? 4), positiveInteger('maxWaiting', options.maxWaiting ?? 16)),
    locks: new Locks(),
    batcher: new DecodeBatcher(),
    counters: { requests: 0, promptTokens: 0, generatedTokens: 0 },
  };
  const cacheStore = options.promptCache === undefined ? new MemoryStore(64 * 1024 * 1024) : options.promptCache;
  engine.promptCache = cacheStore ? new PromptCache(cacheStore, model) : null;
  const chatTemplate = chatTemplateOf(model.chatTemplate, options.chatTemplate);
  const limits = {
    maxTokens: positiveInteger('maxTokens', options.maxTokens ?? 4096),
    maxPromptLength: positiveInteger('maxPromptLength', options.maxPromptLength ?? 65536),
  };
  const created = Math.floor(Date.now() / 1000);
  const decodeOne = (token: number) => model.tokenizer?.decode([token]) ?? '';

  /** OpenAI's legacy logprobs object for some items, or null when they were not asked for. */
  const logprobsOf = (req: CompletionRequest, items: GeneratedToken[], offset: number) => {
    if (req.logprobs === null) return null;
    const tokens: string[] = [];
    const tokenLogprobs: number[] = [];
    const top: Record<string, number>[] = [];
    const textOffset: number[] = [];
    for (const item of items) {
      if (item.logprob === undefined) continue;
      tokens.push(decodeOne(item.token));
      tokenLogprobs.push(item.logprob);
      top.push(Object.fromEntries((item.topLogprobs ?? []).slice(0, req.logprobs).map((t) => [t.text, t.logprob])));
      textOffset.push(offset);
      offset += item.text.length;
    }
    return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: textOffset };
  };

  const app = new Hono();

  app.onError((e, c) => {
    const api = apiErrorOf(e);
    if (api.status === 503) c.header('Retry-After', '1');
    return c.json(errorBody(api), api.status as 400);
  });
  app.notFound((c) => c.json(errorBody(new ApiError(404, `no route ${c.req.method} ${c.req.path}`, null, 'invalid_request_error', 'not_found')), 404));

  app.get('/health', (c) =>
    c.json({ status: 'ok', model: modelName, running: engine.gate.runningCount, waiting: engine.gate.waitingCount }),
  );

  app.get('/v1/models', (c) => c.json({ object: 'list', data: [{ id: modelName, object: 'model', created, owned_by: 'bimamba' }] }));

  app.post(
    '/v1/completions',
    bodyLimit({ maxSize: 4 * 1024 * 1024, onError: (c) => c.json(errorBody(new ApiError(413, 'the request body is over 4 MiB')), 413) }),
    async (c: Context) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new ApiError(400, 'the request body is not valid JSON');
      }
      const req = parseCompletionRequest(body, { session: c.req.header('bimamba-session') }, limits);
      if (req.model !== modelName) throw new ApiError(404, `model ${JSON.stringify(req.model)} is not served here; this server runs ${JSON.stringify(modelName)}`, 'model', 'invalid_request_error', 'model_not_found');

      // Generation stops as soon as the client goes away, or when the stream is cancelled.
      const abort = new AbortController();
      const clientGone = () => abort.abort(new BimambaError('ABORTED', 'the client went away'));
      c.req.raw.signal?.addEventListener('abort', clientGone, { once: true });
      const info: CompletionInfo = {};
      const items = runCompletion(engine, req, abort.signal, info);
      const id = `cmpl-${crypto.randomUUID()}`;
      const head = { id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: modelName };

      // The first item decides the status: a busy server, bad token ids or an unusable session are
      // answered with an error status, before any event is sent.
      let first: IteratorResult<GeneratedToken>;
      try {
        first = await items.next();
      } catch (e) {
        c.req.raw.signal?.removeEventListener('abort', clientGone);
        throw e;
      }

      if (!req.stream) {
        const all: GeneratedToken[] = [];
        try {
          for (let r = first; !r.done; r = await items.next()) all.push(r.value);
        } finally {
          c.req.raw.signal?.removeEventListener('abort', clientGone);
        }
        const last = all.at(-1);
        const echo = req.echo ? echoedPrompt(model.tokenizer, info.promptIds ?? [], info.promptLogprobs, req.logprobs) : null;
        const text = all.map((i) => i.text).join('');
        let logprobs = logprobsOf(req, all, echo?.text.length ?? 0);
        if (echo?.logprobs && logprobs) {
          const p = echo.logprobs;
          logprobs = { tokens: [...p.tokens, ...logprobs.tokens], token_logprobs: [...p.token_logprobs, ...logprobs.token_logprobs] as number[], top_logprobs: [...p.top_logprobs, ...logprobs.top_logprobs] as Record<string, number>[], text_offset: [...p.text_offset, ...logprobs.text_offset] };
        }
        return c.json({
          ...head,
          choices: [{ index: 0, text: (echo?.text ?? '') + text, logprobs, finish_reason: OPENAI_FINISH[last?.finishReason ?? 'stop'] }],
          usage: usageOf(last?.usage, info.cachedTokens),
        });
      }

      const utf8 = new TextEncoder();
      const event = (data: unknown) => utf8.encode(`data: ${JSON.stringify(data)}\n\n`);
      let offset = 0;
      let pending: IteratorResult<GeneratedToken> | null = first;
      const stream = new ReadableStream<Uint8Array>({
        // One item per pull: the client's reading paces the generation.
        async pull(controller) {
          try {
            const r = pending ?? (await items.next());
            pending = null;
            if (r.done) {
              c.req.raw.signal?.removeEventListener('abort', clientGone);
              controller.close();
              return;
            }
            const item = r.value;
            // Run the generation to its end (the session is parked then) before telling the client it is done.
            if (item.finishReason) await items.next();
            const finish = item.finishReason ? OPENAI_FINISH[item.finishReason] : null;
            controller.enqueue(event({ ...head, choices: [{ index: 0, text: item.text, logprobs: logprobsOf(req, [item], offset), finish_reason: finish }] }));
            offset += item.text.length;
            if (finish) {
              if (req.includeUsage) controller.enqueue(event({ ...head, choices: [], usage: usageOf(item.usage, info.cachedTokens) }));
              controller.enqueue(utf8.encode('data: [DONE]\n\n'));
            }
          } catch (e) {
            c.req.raw.signal?.removeEventListener('abort', clientGone);
            if (abort.signal.aborted) return; // the client is gone: nobody to tell
            controller.enqueue(event(errorBody(apiErrorOf(e))));
            controller.close();
          }
        },
        async cancel() {
          clientGone();
          await items.return(undefined);
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    },
  );
  const routes = { engine, modelName, limits, apiErrorOf, errorBody };
  registerChat(app, routes, { template: chatTemplate });
  registerEmbeddings(app, routes);
  registerTokenize(app, routes, chatTemplate);
  registerMetrics(app, routes);
  return app;
}
