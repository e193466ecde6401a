// The tokenizer over HTTP, in llama-server's shapes and vLLM's at once (answers carry both names), so
// clients that tokenize on the server (lm-evaluation-harness's remote tokenizer) need no tokenizer files:
//   POST /tokenize        { content | prompt, add_special | add_special_tokens } -> { tokens, count, max_model_len }
//   POST /detokenize      { tokens }                                          -> { content, prompt }
//   GET  /tokenizer_info  { bos_token, eos_token, pad_token, chat_template, ... }
import type { Context, Hono } from 'hono';
import { checkTokens } from '../generate/tokens.js';
import { BimambaError } from '../errors.js';
import type { ChatTemplate } from '../chat/template.js';
import type { RouteContext } from './chat.js';
import { jsonObject, onlyFields } from './json-body.js';
import { ApiError } from './request.js';

export function registerTokenize(app: Hono, ctx: RouteContext, template: ChatTemplate): void {
  const model = ctx.engine.model;
  const tokenizer = model.tokenizer;
  const need = () => {
    if (!tokenizer) throw new ApiError(501, 'this model file has no tokenizer', null, 'server_error', 'no_tokenizer');
    return tokenizer;
  };
  const text = (id: number | null) => (id === null ? null : (tokenizer?.idToToken(id) ?? null));
  const checkModel = (b: Record<string, unknown>) => {
    if (b.model !== undefined && b.model !== ctx.modelName) throw new ApiError(404, `model ${JSON.stringify(b.model)} is not served here; this server runs ${JSON.stringify(ctx.modelName)}`, 'model', 'invalid_request_error', 'model_not_found');
  };

  app.post('/tokenize', async (c: Context) => {
    const b = await jsonObject(c);
    onlyFields(b, ['content', 'prompt', 'add_special', 'add_special_tokens', 'with_pieces', 'model']);
    checkModel(b);
    const t = need();
    const value = b.content ?? b.prompt;
    const param = b.content !== undefined ? 'content' : 'prompt';
    if (b.content !== undefined && b.prompt !== undefined) throw new ApiError(400, 'give content or prompt, not both', 'prompt');
    if (typeof value !== 'string') throw new ApiError(400, `${param} must be a string`, param);
    if (value.length > ctx.limits.maxPromptLength) throw new ApiError(400, `${param} is ${value.length} characters; this server takes at most ${ctx.limits.maxPromptLength}`, param);
    const special = b.add_special ?? b.add_special_tokens;
    if (special !== undefined && typeof special !== 'boolean') throw new ApiError(400, `${b.add_special !== undefined ? 'add_special' : 'add_special_tokens'} must be true or false`, b.add_special !== undefined ? 'add_special' : 'add_special_tokens');
    if (b.with_pieces !== undefined && typeof b.with_pieces !== 'boolean') throw new ApiError(400, 'with_pieces must be true or false', 'with_pieces');
    const tokens = value.length ? t.encode(value) : [];
    // add_special: BOS as the model's own text prompts get it (the default, as vLLM's add_special_tokens)
    if ((special ?? true) && model.addBosByDefault && model.bosTokenId !== null && tokens.length) tokens.unshift(model.bosTokenId);
    const out: Record<string, unknown> = { tokens, count: tokens.length, max_model_len: ctx.limits.maxPromptLength };
    if (b.with_pieces === true) out.tokens = tokens.map((id) => ({ id, piece: t.decode([id]) }));
    return c.json(out);
  });

  app.post('/detokenize', async (c: Context) => {
    const b = await jsonObject(c);
    onlyFields(b, ['tokens', 'model']);
    checkModel(b);
    const t = need();
    const ids = b.tokens;
    if (!Array.isArray(ids) || !ids.every((x) => Number.isSafeInteger(x) && x >= 0)) throw new ApiError(400, 'tokens must be an array of token ids', 'tokens');
    if (ids.length > ctx.limits.maxPromptLength) throw new ApiError(400, `tokens has ${ids.length} ids; this server takes at most ${ctx.limits.maxPromptLength}`, 'tokens');
    try {
      checkTokens(ids, model.vocabSize);
    } catch (e) {
      if (e instanceof BimambaError) throw new ApiError(400, e.message, 'tokens');
      throw e;
    }
    const content = t.decode(ids as number[]);
    return c.json({ content, prompt: content });
  });

  app.get('/tokenizer_info', (c) => {
    need();
    return c.json({
      tokenizer_class: 'bimamba',
      bos_token: text(model.bosTokenId),
      eos_token: text(model.eosTokenId),
      pad_token: text(model.config.pad_token_id ?? null),
      bos_token_id: model.bosTokenId,
      eos_token_id: model.eosTokenId,
      pad_token_id: model.config.pad_token_id ?? null,
      add_bos_token: model.addBosByDefault,
      chat_template: template.source,
      model_max_length: ctx.limits.maxPromptLength,
      vocab_size: model.vocabSize,
    });
  });
}
