// POST /v1/chat/completions: OpenAI's chat API over the same completion engine as /v1/completions
// (gate, session locks, decode batcher, store, prompt cache). The messages are rendered by the chat
// template and tokenized message by message (src/chat/chat.ts), so a client re-sending a conversation
// finds the state at the end of its earlier messages in the prompt cache.
import type { Context, Hono } from 'hono';
import { assembleChatPrompt, chatOptions, chatParts, type ChatPrompt } from '../chat/chat.js';
import type { ChatTemplate } from '../chat/template.js';
import { BimambaError } from '../errors.js';
import type { FinishReason, GeneratedToken, Usage } from '../generate/generate.js';
import { parseChatRequest, type ChatRequest, type ExtraField } from './chat-request.js';
import { runCompletion, type CompletionInfo, type Engine, type SessionOutcome } from './completion.js';
import { clientOf, ownerOf, requestSignal } from './guard.js';
import { jsonObject } from './json-body.js';
import { ApiError, type CompletionRequest, type Limits } from './request.js';
import { allItems, clientAbort, firstItem, sseResponse } from './sse.js';

/** What the routes share with the app: its engine, model name and limits. */
export interface RouteContext {
  engine: Engine;
  modelName: string;
  limits: Limits;
}

export interface ChatRouteOptions {
  template: ChatTemplate;
  /** Request fields other modules add (ExtraField). */
  extraFields?: Record<string, ExtraField>;
}

const FINISH: Record<FinishReason, string> = { eos: 'stop', stop: 'stop', length: 'length', abort: 'stop' };
const utf8 = new TextEncoder();

/** OpenAI's usage, with the prompt tokens that came from the prompt cache. */
export function chatUsage(u: Usage | undefined, cachedTokens: number) {
  const prompt = u?.promptTokens ?? 0; // every prompt token, cached ones included (as OpenAI counts them)
  const completion = u?.generatedTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cachedTokens } };
}

/**
 * The messages as token ids: rendered here, each message's text encoded by the engine (in a worker with
 * a time budget under `serve`, as /v1/completions' prompts are). A template failure is the request's 400.
 */
async function promptOf(ctx: RouteContext, template: ChatTemplate, req: ChatRequest, signal: AbortSignal): Promise<ChatPrompt> {
  let parts;
  try {
    parts = chatParts(ctx.engine.model, template, req.messages);
  } catch (e) {
    if (e instanceof BimambaError && e.code === 'BAD_TEMPLATE') throw new ApiError(400, `the chat template cannot render these messages: ${e.message}`, 'messages', 'invalid_request_error', 'template_error');
    throw e;
  }
  const encoded: number[][] = [];
  let length = parts.head.length;
  for (const text of parts.parts) {
    const ids = text ? await ctx.engine.encode(text, signal) : [];
    length += ids.length;
    if (length > ctx.limits.maxPromptLength) throw new ApiError(400, `the messages are over ${ctx.limits.maxPromptLength} tokens, the most this server takes`, 'messages');
    encoded.push(ids);
  }
  return assembleChatPrompt(parts, encoded);
}

export function registerChat(app: Hono, ctx: RouteContext, options: ChatRouteOptions): void {
  const { engine, modelName } = ctx;
  const tokenizer = engine.model.tokenizer;
  const textOf = (token: number) => tokenizer?.decode([token]) ?? '';
  const entry = (token: number, text: string, logprob: number) => ({ token: text, logprob, bytes: [...utf8.encode(text)] });
  /** The chat shape of logprobs for some items, or null when not asked for. */
  const logprobsOf = (req: ChatRequest, items: GeneratedToken[]) => {
    if (req.logprobs === null) return null;
    const content = [];
    for (const item of items) {
      if (item.logprob === undefined) continue;
      const top = (item.topLogprobs ?? []).slice(0, req.logprobs).map((t) => entry(t.token, t.text, t.logprob));
      content.push({ ...entry(item.token, textOf(item.token), item.logprob), top_logprobs: top });
    }
    return { content, refusal: null };
  };

  app.post(
    '/v1/chat/completions',
    async (c: Context) => {
      const body = await jsonObject(c);
      const req = parseChatRequest(body, { session: c.req.header('bimamba-session') }, ctx.limits, options.extraFields);
      if (req.model !== modelName) throw new ApiError(404, `model ${JSON.stringify(req.model)} is not served here; this server runs ${JSON.stringify(modelName)}`, 'model', 'invalid_request_error', 'model_not_found');
      const prompt = await promptOf(ctx, options.template, req, requestSignal(c));
      const completion: CompletionRequest = {
        model: req.model,
        prompt: prompt.ids,
        session: req.session,
        stream: req.stream,
        includeUsage: req.includeUsage,
        logprobs: req.logprobs,
        options: { ...req.options, stop: chatOptions(prompt, req.options).stop },
        cachePoints: prompt.messageEnds,
      };

      const abort = clientAbort(c);
      const info: CompletionInfo = {};
      const outcome: SessionOutcome = { status: null };
      const items = runCompletion(engine, completion, abort.signal, { owner: ownerOf(c), client: clientOf(c) }, outcome, info);
      const head: Record<string, unknown> = { id: `chatcmpl-${crypto.randomUUID()}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: modelName, system_fingerprint: null };

      const first = await firstItem(c, items, abort, outcome, head);
      const cached = () => info.cachedTokens ?? 0;

      if (!req.stream) {
        const all = await allItems(first, items, abort);
        const last = all.at(-1);
        return c.json({
          ...head,
          choices: [{
            index: 0,
            message: { role: 'assistant', content: all.map((i) => i.text).join(''), refusal: null },
            logprobs: logprobsOf(req, all),
            finish_reason: FINISH[last?.finishReason ?? 'stop'],
          }],
          usage: chatUsage(last?.usage, cached()),
        });
      }

      const chunkHead = { ...head, object: 'chat.completion.chunk' };
      return sseResponse(c, abort, items, first, {
        // OpenAI's first chunk names the role
        opening: (out) => out.event({ ...chunkHead, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }),
        send(item, out) {
          const content = Boolean(item.text) || item.logprob !== undefined;
          if (!content && !item.finishReason) return false; // text held back (a possible stop string)
          if (content) out.event({ ...chunkHead, choices: [{ index: 0, delta: { content: item.text }, logprobs: logprobsOf(req, [item]), finish_reason: null }] });
          if (item.finishReason) {
            out.event({ ...chunkHead, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: FINISH[item.finishReason] }] });
            if (req.includeUsage) out.event({ ...chunkHead, choices: [], usage: chatUsage(item.usage, cached()) });
            out.done();
          }
          return true;
        },
      });
    },
  );
}
