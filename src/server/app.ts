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
//
// Every route but /health goes through the guard (guard.ts: Host, CORS, API key, content type, body
// size, the request's clock); a failure anywhere is answered through one table (error-table.ts).
import type { Context } from 'hono';
import { Hono } from 'hono/tiny';
import { BimambaError } from '../errors.js';
import type { FinishReason, GeneratedToken, Usage } from '../generate/generate.js';
import type { Model } from '../model/model.js';
import { chatTemplateOf } from '../chat/template.js';
import { DecodeBatcher } from './batcher.js';
import { registerChat } from './chat.js';
import { runCompletion, type CompletionInfo, type Engine, type SessionOutcome } from './completion.js';
import { echoedPrompt } from './echo.js';
import { registerEmbeddings } from './embeddings.js';
import { inThreadEncoder, type PromptEncoder } from './encoder.js';
import { apiErrorOf, errorBody } from './error-table.js';
import { Gate, Locks } from './gate.js';
import { clientOf, guard, hostClientAddress, ownerOf } from './guard.js';
import { parseJsonBody } from './json-body.js';
import { registerMetrics } from './metrics.js';
import { ParkedIndex } from './parked.js';
import { DEFAULT_PROMPT_CACHE_BYTES, PromptCache } from './prompt-cache.js';
import { GATED_ROUTES, refuseEarly } from './refusal.js';
import { ApiError, parseCompletionRequest, shown, type CompletionRequest } from './request.js';
import { allItems, clientAbort, firstItem, sseResponse } from './sse.js';
import { MemoryStore, type SnapshotStore } from './store.js';
import { registerTokenize } from './tokenize.js';

export interface AppOptions {
  /** The loaded model. The app does not dispose it. */
  model: Model;
  /** The model's id in /v1/models and the `model` field requests must name (default 'default', as `bimamba serve`'s). */
  modelName?: string;
  /** Where idle sessions are parked (default: a MemoryStore of 512 MiB). */
  store?: SnapshotStore;
  /** Completions generating at once, each with one live session (default 4). */
  maxActive?: number;
  /** Requests waiting for a turn; past that, 503 with Retry-After (default 16). */
  maxWaiting?: number;
  /** Largest max_tokens (default 4096). */
  maxTokens?: number;
  /** Longest prompt in characters or token ids, and in tokens once encoded (default 65536). */
  maxPromptLength?: number;
  /** Completions one client address runs at once (default: half of maxActive, at least 1). */
  maxActivePerClient?: number;
  /** Requests one client address has waiting (default: a quarter of maxWaiting, at least 1). */
  maxWaitingPerClient?: number;
  /** Sessions one API key (one client address without keys) keeps parked; past it its oldest goes (default 64). */
  maxSessionsPerOwner?: number;
  /** API keys (`Authorization: Bearer KEY`); empty or absent: no authentication, for trusted clients only. */
  apiKeys?: string[];
  /** Host names allowed in the Host header besides IP literals and localhost; '*' (the default here): any. */
  allowedHosts?: string[] | '*';
  /** Origins allowed to call the API from a page (CORS); '*' for any (default: none). */
  corsOrigins?: string[];
  /** Largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Wall-clock cap of a request, streaming included, in seconds (default 600). */
  requestTimeout?: number;
  /** A stream whose client takes no chunk for this many seconds is ended (default 10). */
  writeTimeout?: number;
  /** The client's address for the per-client caps (default: what Node's server saw, else `clientAddress` in the env passed to app.fetch; null: none). */
  clientAddress?: (c: Context) => string | null;
  /** How text prompts become ids (default: the model's tokenizer, in this thread). */
  encodePrompt?: PromptEncoder;
  /**
   * Where the prompt cache keeps its states (src/server/prompt-cache.ts); null turns it off. Default: a
   * MemoryStore of 64 MiB of its own. A store shared with the sessions' is fine: the keys never meet.
   */
  promptCache?: SnapshotStore | null;
  /** Bytes of prompt-cache entries kept in that store; past it the oldest this app saved are deleted (default 64 MiB). */
  promptCacheBytes?: number;
  /** A Jinja chat template for /v1/chat/completions instead of the model file's (or the default one). */
  chatTemplate?: string;
}

const OPENAI_FINISH: Record<FinishReason, string> = { eos: 'stop', stop: 'stop', length: 'length', abort: 'stop' };

function positiveInteger(name: string, v: number, min = 1): number {
  if (!(Number.isSafeInteger(v) && v >= min)) throw new BimambaError('BAD_ARGUMENT', `invalid ${name}: ${v} (an integer >= ${min})`);
  return v;
}

function seconds(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw new BimambaError('BAD_ARGUMENT', `invalid ${name}: ${v} (a positive number of seconds)`);
  return Math.round(v * 1000);
}

function usageOf(u: Usage | undefined, cachedTokens = 0) {
  const prompt = u?.promptTokens ?? 0;
  const completion = u?.generatedTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cachedTokens } };
}

export function createApp(options: AppOptions): Hono {
  const { model } = options;
  const modelName = options.modelName ?? 'default';
  const limits = {
    maxTokens: positiveInteger('maxTokens', options.maxTokens ?? 4096),
    maxPromptLength: positiveInteger('maxPromptLength', options.maxPromptLength ?? 65536),
  };
  const maxActive = positiveInteger('maxActive', options.maxActive ?? 4);
  const maxWaiting = positiveInteger('maxWaiting', options.maxWaiting ?? 16, 0);
  const engine: Engine = {
    model,
    store: options.store ?? new MemoryStore(),
    gate: new Gate(maxActive, maxWaiting, {
      active: positiveInteger('maxActivePerClient', options.maxActivePerClient ?? Math.max(1, Math.floor(maxActive / 2))),
      waiting: positiveInteger('maxWaitingPerClient', options.maxWaitingPerClient ?? Math.max(1, Math.floor(maxWaiting / 4)), 0),
    }),
    locks: new Locks(),
    batcher: new DecodeBatcher(),
    parked: new ParkedIndex(positiveInteger('maxSessionsPerOwner', options.maxSessionsPerOwner ?? 64)),
    encode: options.encodePrompt ?? inThreadEncoder(model),
    limits,
    counters: { requests: 0, promptTokens: 0, generatedTokens: 0 },
  };
  const cacheStore = options.promptCache === undefined ? new MemoryStore(DEFAULT_PROMPT_CACHE_BYTES) : options.promptCache;
  engine.promptCache = cacheStore ? new PromptCache(cacheStore, model, positiveInteger('promptCacheBytes', options.promptCacheBytes ?? DEFAULT_PROMPT_CACHE_BYTES)) : null;
  const chatTemplate = chatTemplateOf(model.chatTemplate, options.chatTemplate);
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

  app.use('*', guard({
    apiKeys: options.apiKeys ?? [],
    allowedHosts: options.allowedHosts ?? '*',
    corsOrigins: options.corsOrigins ?? [],
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes ?? 4 * 1024 * 1024),
    requestTimeoutMs: seconds('requestTimeout', options.requestTimeout ?? 600),
    writeTimeoutMs: seconds('writeTimeout', options.writeTimeout ?? 10),
    clientAddress: options.clientAddress ?? hostClientAddress,
  }, (path) => path === '/health'));
  for (const path of GATED_ROUTES) app.use(path, refuseEarly(engine.gate)); // over its caps: 503 before the body is read

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
    async (c: Context) => {
      const body = parseJsonBody(await c.req.text());
      const req = parseCompletionRequest(body, { session: c.req.header('bimamba-session') }, limits);
      if (req.model !== modelName) throw new ApiError(404, `model ${shown(req.model)} is not served here; this server runs ${JSON.stringify(modelName)}`, 'model', 'invalid_request_error', 'model_not_found');

      const abort = clientAbort(c);
      const outcome: SessionOutcome = { status: null };
      const info: CompletionInfo = {};
      const items = runCompletion(engine, req, abort.signal, { owner: ownerOf(c), client: clientOf(c) }, outcome, info);
      const id = `cmpl-${crypto.randomUUID()}`;
      const head: Record<string, unknown> = { id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: modelName };

      const first = await firstItem(c, items, abort, outcome, head);

      if (!req.stream) {
        const all = await allItems(first, items, abort);
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

      let offset = 0;
      return sseResponse(c, abort, items, first, {
        send(item, out) {
          const finish = item.finishReason ? OPENAI_FINISH[item.finishReason] : null;
          out.event({ ...head, choices: [{ index: 0, text: item.text, logprobs: logprobsOf(req, [item], offset), finish_reason: finish }] });
          offset += item.text.length;
          if (finish) {
            if (req.includeUsage) out.event({ ...head, choices: [], usage: usageOf(item.usage, info.cachedTokens) });
            out.done();
          }
          return true;
        },
      });
    },
  );
  const routes = { engine, modelName, limits };
  registerChat(app, routes, { template: chatTemplate });
  registerEmbeddings(app, routes);
  registerTokenize(app, routes, chatTemplate);
  registerMetrics(app, routes);
  return app;
}
