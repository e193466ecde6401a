// A conversation as token ids, and chat generation over generate(). The ids are made message by message
// (each message's rendered text tokenized alone), so the ids of a conversation's first messages are the
// same whatever follows them: a client re-sending a longer history gets the same leading ids, and the
// state at the end of a message (a prompt-cache entry, a session) can be resumed exactly.
import { BimambaError } from '../errors.js';
import { feedCuts, feedInCuts, type FeedableSession } from './feed.js';
import { generate, type Completion, type GeneratedToken, type GenerateOptions, type GenerationHost } from '../generate/generate.js';
import { ChatTemplate, chatTemplateOf, checkMessages, DEFAULT_CHAT_STOP, type ChatMessage } from './template.js';

export interface ChatOptions extends GenerateOptions {
  /** A Jinja chat template (source or parsed) instead of the model's own (`model.chatTemplate`). */
  chatTemplate?: string | ChatTemplate;
}

/** A conversation rendered and tokenized. */
export interface ChatPrompt {
  /** Every token id, the assistant's generation prompt last. */
  ids: number[];
  /** Ids before the end of each message (ascending; the last one is before the generation prompt). */
  messageEnds: number[];
  /** Where replies end besides EOS: DEFAULT_CHAT_STOP for the default template, else none. */
  stop: string[];
}

/** What chat needs of a model beyond what generation needs. */
export interface ChatHost extends GenerationHost<FeedableSession> {
  readonly chatTemplate: string | null;
}

/** Rendering every prefix costs about messages x length: past this many characters, one render only. */
const PREFIX_RENDER_BUDGET = 32_000_000;
/** ... and past this many milliseconds of rendering prefixes (a template's own budget is per render). */
const PREFIX_RENDER_MS = 2000;

/** The text of a special token for the template's bos_token / eos_token. */
function tokenText(host: ChatHost, id: number | null): string {
  if (id === null || !host.tokenizer) return '';
  return host.tokenizer.idToToken(id) ?? '';
}

/** A conversation rendered, before tokenizing: BOS (when the template leaves it to us), then one text per message (the reply's prompt last). */
export interface ChatParts {
  head: number[];
  parts: string[];
  stop: string[];
}

/**
 * `messages` rendered by `template`, cut into each message's part of the text (the text the template
 * makes for the messages up to it, less that for the ones before), each to be tokenized alone. A template
 * whose renders of successive prefixes do not extend each other (some rewrite earlier turns) gives one
 * part, and then only its end is a message end.
 */
export function chatParts(host: ChatHost, template: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt = true): ChatParts {
  if (!host.tokenizer) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer: chat needs one');
  const vars = { bosToken: tokenText(host, host.bosTokenId), eosToken: tokenText(host, host.eosTokenId) };
  const full = template.render(messages, { ...vars, addGenerationPrompt });
  // BOS: a model template writes bos_token itself; the plain default one gets it as generate() would
  const head = template.isDefault && host.addBosByDefault && host.bosTokenId !== null ? [host.bosTokenId] : [];
  let parts: string[] | null = null;
  if (messages.length * full.length <= PREFIX_RENDER_BUDGET) {
    parts = [];
    let done = '';
    const t0 = performance.now();
    for (let i = 1; i <= messages.length; i++) {
      if (performance.now() - t0 > PREFIX_RENDER_MS) { parts = null; break; } // a slow template: one render is enough
      const upTo = template.render(messages.slice(0, i), { ...vars, addGenerationPrompt: false });
      if (!upTo.startsWith(done)) { parts = null; break; }
      parts.push(upTo.slice(done.length));
      done = upTo;
    }
    if (parts && !full.startsWith(done)) parts = null;
    if (parts) parts.push(full.slice(done.length));
  }
  return { head, parts: parts ?? [full], stop: template.isDefault ? [...DEFAULT_CHAT_STOP] : [] };
}

/** The token ids of the parts, given each part's ids (`encoded[i]` for `parts[i]`), and the messages' ends. */
export function assembleChatPrompt(p: ChatParts, encoded: readonly (readonly number[])[]): ChatPrompt {
  const ids = [...p.head];
  const messageEnds: number[] = [];
  for (let i = 0; i < p.parts.length; i++) {
    for (const id of encoded[i]) ids.push(id);
    if (i < p.parts.length - 1) messageEnds.push(ids.length);
  }
  if (ids.length === 0) throw new BimambaError('BAD_ARGUMENT', 'the chat template rendered these messages as empty text');
  return { ids, messageEnds, stop: p.stop };
}

/** The token ids of `messages` under `template` (chatParts, each part tokenized alone). */
export function chatPrompt(host: ChatHost, template: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt = true): ChatPrompt {
  const p = chatParts(host, template, messages, addGenerationPrompt);
  return assembleChatPrompt(p, p.parts.map((t) => (t ? host.tokenizer!.encode(t) : [])));
}

/** Generation options for a chat prompt: its stop strings join the caller's. */
export function chatOptions(prompt: ChatPrompt, options: GenerateOptions): GenerateOptions {
  const given = options.stop === undefined ? [] : Array.isArray(options.stop) ? options.stop : [options.stop];
  return { ...options, stop: [...given, ...prompt.stop], addBos: false };
}

function prepare(host: ChatHost, messages: unknown, options: ChatOptions): { prompt: ChatPrompt; options: GenerateOptions } {
  if (typeof options !== 'object' || options === null) throw new BimambaError('BAD_ARGUMENT', 'the chat options must be an object');
  const { chatTemplate, ...rest } = options;
  const template = chatTemplateOf(host.chatTemplate, chatTemplate);
  const prompt = chatPrompt(host, template, checkMessages(messages));
  return { prompt, options: chatOptions(prompt, rest) };
}

/**
 * Generate after `prompt`, fed in its cuts (feed.ts: the server's schedule, so the library's text is the
 * server's), into `options.session` if given (it then holds the conversation and the reply), else a
 * session of its own.
 */
export async function* generateAfter(host: GenerationHost<FeedableSession>, prompt: ChatPrompt, options: GenerateOptions): AsyncGenerator<GeneratedToken> {
  const given = options.session as FeedableSession | undefined; // owns() below: a session of this model, so a Session
  if (given !== undefined && host.owns(given) !== true) throw new BimambaError('BAD_ARGUMENT', 'session must be a Session made by this model');
  if (given?.generating) throw new BimambaError('BAD_ARGUMENT', 'this session is already generating: wait for that generation to end, or fork() the session');
  const session = given ?? host.createSession();
  try {
    const t0 = performance.now();
    const cuts = feedCuts(prompt.ids.length, prompt.messageEnds);
    await feedInCuts(session, prompt.ids, cuts, 0, { signal: options.signal, abort: options.abort });
    const prefillMs = performance.now() - t0;
    for await (const item of generate(host, [], { ...options, session })) {
      if (item.usage) {
        item.usage.promptTokens = prompt.ids.length;
        item.usage.prefillMs = prefillMs;
      }
      yield item;
    }
  } finally {
    if (!given) session.dispose();
  }
}

/** Stream the assistant's reply to `messages` (model.chat). */
export function chat(host: ChatHost, messages: readonly ChatMessage[], options: ChatOptions = {}): AsyncGenerator<GeneratedToken> {
  const p = prepare(host, messages, options);
  return generateAfter(host, p.prompt, p.options);
}

/** The whole reply to `messages` (model.completeChat). */
export async function completeChat(host: ChatHost, messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<Completion & { message: ChatMessage }> {
  const p = prepare(host, messages, options);
  let text = '';
  const tokens: number[] = [];
  for await (const item of generateAfter(host, p.prompt, p.options)) {
    text += item.text;
    if (item.token >= 0) tokens.push(item.token);
    if (item.finishReason) return { text, tokens, finishReason: item.finishReason, usage: item.usage!, message: { role: 'assistant', content: text } };
  }
  throw new Error('unreachable: every generation ends with an item that has a finishReason');
}
