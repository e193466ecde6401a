// Streaming generation: feed the prompt, then sample, feed back, decode and stream, one token at a time.
import { BimambaError } from '../errors.js';
import { checkTokens } from './tokens.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { constraintFor, type StructuredOptions } from '../grammar/constraint.js';
import { Rng } from './rng.js';
import { GENERATION_DEFAULTS } from './defaults.js';
import { logNormalizer, topIds } from './logprobs.js';
import { nearestName } from './nearest-name.js';
import { resolveSampling, sample, type SamplingOptions } from './sampler.js';
import { StopMatcher } from './stop.js';
import { TimeSlicer, yieldToHost } from './yield.js';

export interface GenerateOptions extends SamplingOptions, StructuredOptions {
  /** Most tokens to generate (default 128). */
  maxTokens?: number;
  /** Seed for sampling: the same seed gives the same tokens in every runtime. Default: random. */
  seed?: number;
  /** Stop when the decoded text reaches one of these; the stop string is not emitted. */
  stop?: string | string[];
  /** Abort generation; what then happens is `abort`'s choice. */
  signal?: AbortSignal;
  /**
   * What an abort does: 'throw' (the default) rejects with a BimambaError of code 'ABORTED'; 'finish'
   * ends the generation with a last item whose finishReason is 'abort' (the text so far is kept).
   */
  abort?: 'throw' | 'finish';
  /**
   * Report log-probabilities: `true` gives each item the `logprob` of its token; a number n also gives
   * the n most likely tokens (`topLogprobs`, at most 100). They are the model's own log softmax, before
   * the repetition penalty, temperature and truncation (as OpenAI and llama.cpp report them).
   */
  logprobs?: boolean | number;
  /** Continue this session (its state advances) instead of a fresh one: a Session of the same model (model.createSession()). */
  session?: GenerationSession;
  /** Prepend the BOS token to a text prompt. Default: what the tokenizer's post-processor does. */
  addBos?: boolean;
  /** Stop at the end-of-sequence token (default true). */
  stopAtEos?: boolean;
}

/**
 * Every option of GenerateOptions (SamplingOptions' included): generate() refuses any other name. A new
 * option goes into the interface and here; the check below fails to compile while the two disagree.
 */
const OPTION_NAMES = [
  'temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'repetitionWindow',
  'maxTokens', 'seed', 'stop', 'signal', 'abort', 'logprobs', 'session', 'addBos', 'stopAtEos',
  'jsonSchema', 'json', 'grammar',
] as const satisfies readonly (keyof GenerateOptions)[];
type UnlistedOption = Exclude<keyof GenerateOptions, (typeof OPTION_NAMES)[number]>;
const everyOptionListed: [UnlistedOption] extends [never] ? true : UnlistedOption = true;
void everyOptionListed;
export const GENERATE_OPTION_NAMES: ReadonlySet<string> = new Set(OPTION_NAMES);

/**
 * Why a generation ended: the end-of-sequence token, a stop string or a complete structured output
 * (jsonSchema, json, grammar), maxTokens, or an abort ('finish').
 */
export type FinishReason = 'eos' | 'stop' | 'length' | 'abort';

/** What a generation cost. */
export interface Usage {
  /** Prompt tokens fed (0 when continuing a session with an empty prompt). */
  promptTokens: number;
  /** Tokens sampled, the end-of-sequence token included. */
  generatedTokens: number;
  /** Milliseconds spent feeding the prompt. */
  prefillMs: number;
  /** Milliseconds from the first sampled token to the end (wall clock). */
  decodeMs: number;
}

/** One candidate token and its log-probability. */
export interface TokenLogprob {
  token: number;
  /** The token decoded alone (a piece of a character decodes to U+FFFD). */
  text: string;
  logprob: number;
}

export interface GeneratedToken {
  /** The token id; -1 on a last item that carries no token (an abort, or maxTokens 0). */
  token: number;
  /** Text that became final with this token (may be empty while a character or stop string is incomplete). */
  text: string;
  /** With `logprobs`: the token's log-probability. */
  logprob?: number;
  /** With `logprobs: n`: the n most likely tokens at this step, best first. */
  topLogprobs?: TokenLogprob[];
  /** On the last item of every generation: why it ended. */
  finishReason?: FinishReason;
  /** On the last item of every generation. */
  usage?: Usage;
}

/** A whole generation at once: what `model.complete()` returns. */
export interface Completion {
  text: string;
  /** The sampled token ids (usage.generatedTokens of them). */
  tokens: number[];
  finishReason: FinishReason;
  usage: Usage;
}

/**
 * What generation needs of a session (src/model/session.ts's Session is the one): generation depends on
 * this, not on the model's classes, so generate/ imports nothing from model/.
 */
export interface GenerationSession {
  /** Number of tokens fed so far. */
  readonly tokensSeen: number;
  /** @internal a generation is running on this session */
  generating: boolean;
  /** @internal feed tokens, leaving their last logits where samplingLogits() finds them */
  advance(tokens: ArrayLike<number>): void;
  /** @internal the first n of the last logits, a view into WASM memory; `writable`: a copy there that may be changed in place */
  samplingLogits(n: number, writable: boolean): Float32Array;
  /** @internal the WASM argmax over such a view */
  argmax(logits: Float32Array): number;
  /** @internal the last n tokens fed, oldest first */
  recentTokens(n: number): number[];
  dispose(): void;
}

/** What generation needs from a model. */
export interface GenerationHost<S extends GenerationSession = GenerationSession> {
  tokenizer: Tokenizer | null;
  vocabSize: number;
  eosTokenId: number | null;
  addBosByDefault: boolean;
  bosTokenId: number | null;
  createSession(): S;
  /** Whether `session` is a session of this model ('not a session': not one of this package's at all). */
  owns(session: unknown): boolean | 'not a session';
}

/**
 * Feeds a sampled token to the session. By default session.advance(); a server passes one that batches
 * the decoding steps of its concurrent generations (src/server/batcher.ts).
 */
export type TokenFeeder<S extends GenerationSession = GenerationSession> = (session: S, token: number) => void | Promise<void>;

const feedAlone: TokenFeeder = (session, token) => session.advance([token]);

const MAX_TOP_LOGPROBS = 100;
/** Prompt tokens fed between two turns given to the host (a multiple of the default prefill chunk). */
const PROMPT_SLICE = 256;
const SAMPLING_NUMBERS = ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty'] as const;

const bad = (message: string) => new BimambaError('BAD_ARGUMENT', message);
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** An optional integer option: a string or a fraction is named as such, not coerced. */
function integerOption(name: string, v: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v)) throw bad(`invalid ${name}: ${show(v)} is not a number`);
  if (!Number.isInteger(v)) throw bad(`invalid ${name}: ${v} is not an integer`);
  if (v < min || v > max) throw bad(`invalid ${name}: ${v} (an integer in [${min}, ${max}])`);
  return v;
}

interface Checked {
  maxTokens: number;
  seed: number;
  stops: string[];
  abort: 'throw' | 'finish';
  /** -1: no logprobs; 0: the chosen token's; n: also the n best. */
  topLogprobs: number;
}

function checkOptions(o: GenerateOptions): Checked {
  if (typeof o !== 'object' || o === null) throw bad(`the options must be an object, not ${show(o)}`);
  for (const name of Object.keys(o)) {
    if (!GENERATE_OPTION_NAMES.has(name)) {
      throw bad(`unknown option ${JSON.stringify(name.slice(0, 100))}; did you mean "${nearestName(name, [...GENERATE_OPTION_NAMES])}"?`);
    }
  }
  for (const name of SAMPLING_NUMBERS) {
    const v = o[name];
    if (v !== undefined && typeof v !== 'number') throw bad(`invalid ${name}: ${show(v)} is not a number`);
  }
  const maxTokens = integerOption('maxTokens', o.maxTokens, GENERATION_DEFAULTS.maxTokens, 0);
  const seed = integerOption('seed', o.seed, Math.floor(Math.random() * 2 ** 32), Number.MIN_SAFE_INTEGER);
  const stops = o.stop === undefined ? [] : Array.isArray(o.stop) ? o.stop : [o.stop];
  if (!stops.every((s) => typeof s === 'string')) throw bad('stop must be a string or an array of strings');
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && 'aborted' in o.signal)) {
    throw bad('signal must be an AbortSignal');
  }
  const abort = o.abort ?? 'throw';
  if (abort !== 'throw' && abort !== 'finish') throw bad(`invalid abort: ${show(abort)} (either 'throw' or 'finish')`);
  let topLogprobs = -1;
  if (o.logprobs === true) topLogprobs = 0;
  else if (o.logprobs !== undefined && o.logprobs !== false) {
    if (typeof o.logprobs !== 'number') throw bad(`invalid logprobs: ${show(o.logprobs)} (true, false or a number of top tokens)`);
    topLogprobs = integerOption('logprobs', o.logprobs, 0, 0, MAX_TOP_LOGPROBS);
  }
  return { maxTokens, seed, stops, abort, topLogprobs };
}

/** Turn a prompt (text or ids) into token ids. */
export function promptIds(host: GenerationHost, prompt: string | ArrayLike<number>, addBos?: boolean): number[] {
  if (typeof prompt !== 'string') {
    if (typeof prompt !== 'object' || prompt === null || typeof prompt.length !== 'number') {
      throw bad(`the prompt must be a string or an array of token ids, not ${show(prompt)}`);
    }
    checkTokens(prompt, host.vocabSize); // before copying: {length: 1e9} must not become a billion-item array
    return Array.from(prompt);
  }
  if (!host.tokenizer) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer: pass token ids instead of text');
  const ids = prompt.length ? host.tokenizer.encode(prompt) : [];
  if ((addBos ?? host.addBosByDefault) && host.bosTokenId !== null && ids.length) ids.unshift(host.bosTokenId);
  return ids;
}

export async function* generate<S extends GenerationSession>(
  host: GenerationHost<S>, prompt: string | ArrayLike<number>, options: GenerateOptions = {}, feedToken: TokenFeeder<S> = feedAlone,
): AsyncGenerator<GeneratedToken> {
  const { maxTokens, seed, stops, abort, topLogprobs } = checkOptions(options);
  const sampling = resolveSampling(options);
  const ids = promptIds(host, prompt, options.addBos);
  // Structured output: only tokens that keep the text a valid prefix of the grammar are sampled (a bad
  // grammar or schema is refused here, before the prompt is fed).
  const constraint = constraintFor(options, host, (options.stopAtEos ?? true) ? host.eosTokenId : null);
  const given = options.session as S | undefined;
  if (given !== undefined) {
    const owned = host.owns(given);
    if (owned === 'not a session') throw new BimambaError('BAD_ARGUMENT', 'session must be a Session made by model.createSession()');
    if (!owned) throw new BimambaError('BAD_ARGUMENT', 'session belongs to another model');
    if (given.generating) throw new BimambaError('BAD_ARGUMENT', 'this session is already generating: wait for that generation to end, or fork() the session');
  }
  const session = given ?? host.createSession();
  session.generating = true;
  const usage: Usage = { promptTokens: 0, generatedTokens: 0, prefillMs: 0, decodeMs: 0 };
  let decodeStart = 0;
  const last = (item: GeneratedToken, finishReason: FinishReason): GeneratedToken => {
    if (decodeStart) usage.decodeMs = performance.now() - decodeStart;
    return { ...item, finishReason, usage };
  };
  const aborted = () => {
    if (!options.signal?.aborted) return false;
    if (abort === 'throw') throw new BimambaError('ABORTED', 'generation was aborted', { cause: options.signal.reason });
    return true;
  };
  try {
    if (ids.length === 0 && session.tokensSeen === 0) throw bad('the prompt is empty');
    if (aborted()) return yield last({ token: -1, text: '' }, 'abort');
    const slicer = new TimeSlicer(); // the host gets a turn between tokens once a slice of work is done
    const t0 = performance.now();
    // A long prompt goes in slices with a turn for the host between them, so a server keeps answering its
    // other requests (and a page stays responsive) while one prompt is read, and an abort is seen in time.
    if (ids.length) session.advance(ids.slice(0, PROMPT_SLICE));
    usage.promptTokens = Math.min(ids.length, PROMPT_SLICE);
    for (let i = PROMPT_SLICE; i < ids.length; i += PROMPT_SLICE) {
      await yieldToHost();
      if (aborted()) {
        usage.prefillMs = performance.now() - t0;
        return yield last({ token: -1, text: '' }, 'abort');
      }
      session.advance(ids.slice(i, i + PROMPT_SLICE));
      usage.promptTokens = Math.min(ids.length, i + PROMPT_SLICE);
    }
    usage.prefillMs = performance.now() - t0;
    decodeStart = performance.now();
    if (maxTokens === 0) return yield last({ token: -1, text: '' }, 'length');
    const rng = new Rng(seed);
    // Never sample an id the tokenizer cannot decode (embeddings are often padded past the vocabulary).
    const samplable = host.tokenizer ? Math.min(host.vocabSize, host.tokenizer.vocabSize) : host.vocabSize;
    const decoder = host.tokenizer?.createStreamDecoder();
    const stop = new StopMatcher(stops);
    if (constraint?.complete) return yield last({ token: -1, text: '' }, 'stop');
    for (let i = 0; i < maxTokens; i++) {
      await slicer.tick();
      if (aborted()) {
        // what the decoder and the stop matcher still hold is final now
        const { emit, stopped } = stop.push(decoder?.flush() ?? '');
        return yield last({ token: -1, text: stopped ? emit : emit + stop.flush() }, 'abort');
      }
      // THE place where sampling gets the logits: `candidates` is a Float32Array view of the last logits in
      // WASM memory, where sample() picks greedy tokens with the WASM argmax. Not `writable`: the session's
      // own logits, read where they lie (nothing copied). `writable`: one copy inside WASM memory (the
      // model's logits scratch), which may be changed in place between here and sample() (a mask sets a
      // logit to -Infinity) and by sample() (the repetition penalty); whatever changes the logits must make
      // `writable` true, so that the session's own never change. Nothing awaits until sample() returns, so
      // no other feed comes between. Log-probabilities read the model's own logits, from a copy (asked for).
      const writable = sampling.repetitionPenalty !== 1 || constraint !== null;
      const candidates = session.samplingLogits(samplable, writable);
      const raw = topLogprobs >= 0 ? candidates.slice() : null;
      const logZ = raw ? logNormalizer(raw) : 0;
      const top = raw && topLogprobs > 0 ? topIds(raw, topLogprobs) : null;
      constraint?.mask(candidates);
      const token = sample(candidates, sampling, rng, session.recentTokens(sampling.repetitionWindow), (x) => session.argmax(x));
      const logprob = raw ? raw[token] - logZ : undefined;
      usage.generatedTokens++;
      const isEos = token === host.eosTokenId && (options.stopAtEos ?? true);
      constraint?.accept(token);
      const done = constraint?.complete === true;
      const isLast = isEos || done || i === maxTokens - 1;
      let text = isEos ? '' : decoder?.push(token) ?? '';
      if (isLast) text += decoder?.flush() ?? '';
      const { emit, stopped } = stop.push(text);
      const item: GeneratedToken = { token, text: isLast && !stopped ? emit + stop.flush() : emit };
      if (logprob !== undefined) item.logprob = logprob;
      if (top) item.topLogprobs = top.map((t) => ({ token: t, text: host.tokenizer?.decode([t]) ?? '', logprob: raw![t] - logZ }));
      // A caller's session takes in every sampled token, so it can go on where this generation ended.
      if (options.session || !(isLast || stopped)) await feedToken(session, token);
      if (isEos) return yield last(item, 'eos');
      if (stopped || done) return yield last(item, 'stop');
      if (isLast) return yield last(item, 'length');
      yield item;
    }
  } finally {
    session.generating = false;
    if (!given) session.dispose();
  }
}

/** Run a generation to its end and gather it: the text, the token ids, why it ended and what it cost. */
export async function complete(host: GenerationHost, prompt: string | ArrayLike<number>, options: GenerateOptions = {}): Promise<Completion> {
  let text = '';
  const tokens: number[] = [];
  for await (const item of generate(host, prompt, options)) {
    text += item.text;
    if (item.token >= 0) tokens.push(item.token);
    if (item.finishReason) return { text, tokens, finishReason: item.finishReason, usage: item.usage! };
  }
  throw new Error('unreachable: every generation ends with an item that has a finishReason');
}
