// Streaming generation: feed the prompt, then sample, feed back, decode and stream, one token at a time.
import { BimambaError } from '../errors.js';
import type { Session } from '../model/session.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { Rng } from './rng.js';
import { resolveSampling, sample, type SamplingOptions } from './sampler.js';
import { StopMatcher } from './stop.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default 128). */
  maxTokens?: number;
  /** Seed for sampling: the same seed gives the same tokens in every runtime. Default: random. */
  seed?: number;
  /** Stop when the decoded text reaches one of these; the stop string is not emitted. */
  stop?: string | string[];
  /** Abort generation; the generator then throws a BimambaError with code 'ABORTED'. */
  signal?: AbortSignal;
  /** Continue this session (its state advances) instead of a fresh one. */
  session?: Session;
  /** Prepend the BOS token to a text prompt. Default: what the tokenizer's post-processor does. */
  addBos?: boolean;
  /** Stop at the end-of-sequence token (default true). */
  stopAtEos?: boolean;
}

export interface GeneratedToken {
  /** The token id. */
  token: number;
  /** Text that became final with this token (may be empty while a character or stop string is incomplete). */
  text: string;
}

/** What generation needs from a model. */
export interface GenerationHost {
  tokenizer: Tokenizer | null;
  vocabSize: number;
  eosTokenId: number | null;
  addBosByDefault: boolean;
  bosTokenId: number | null;
  createSession(): Session;
}

/** Let timers and abort handlers run between tokens. */
const nextTick: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : () => new Promise((r) => setTimeout(r, 0));

function checkOptions(o: GenerateOptions): { maxTokens: number; seed: number; stops: string[] } {
  const maxTokens = o.maxTokens ?? 128;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new BimambaError('BAD_ARGUMENT', `invalid maxTokens: ${maxTokens} (an integer ≥ 0)`);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(seed)) throw new BimambaError('BAD_ARGUMENT', `invalid seed: ${seed} (an integer)`);
  const stops = o.stop === undefined ? [] : Array.isArray(o.stop) ? o.stop : [o.stop];
  if (!stops.every((s) => typeof s === 'string')) throw new BimambaError('BAD_ARGUMENT', 'stop must be a string or an array of strings');
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && 'aborted' in o.signal)) {
    throw new BimambaError('BAD_ARGUMENT', 'signal must be an AbortSignal');
  }
  return { maxTokens, seed, stops };
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new BimambaError('ABORTED', 'generation was aborted', { cause: signal.reason });
}

/** Turn a prompt (text or ids) into token ids. */
export function promptIds(host: GenerationHost, prompt: string | ArrayLike<number>, addBos?: boolean): number[] {
  if (typeof prompt !== 'string') return Array.from(prompt);
  if (!host.tokenizer) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer: pass token ids instead of text');
  const ids = prompt.length ? host.tokenizer.encode(prompt) : [];
  if ((addBos ?? host.addBosByDefault) && host.bosTokenId !== null && ids.length) ids.unshift(host.bosTokenId);
  return ids;
}

export async function* generate(host: GenerationHost, prompt: string | ArrayLike<number>, options: GenerateOptions = {}): AsyncGenerator<GeneratedToken> {
  const sampling = resolveSampling(options);
  const { maxTokens, seed, stops } = checkOptions(options);
  const ids = promptIds(host, prompt, options.addBos);
  const session = options.session ?? host.createSession();
  try {
    if (ids.length === 0 && session.tokensSeen === 0) throw new BimambaError('BAD_ARGUMENT', 'the prompt is empty');
    aborted(options.signal);
    let logits = ids.length ? session.feed(ids) : session.lastLogits();
    const rng = new Rng(seed);
    // Never sample an id the tokenizer cannot decode (embeddings are often padded past the vocabulary).
    const samplable = host.tokenizer ? Math.min(host.vocabSize, host.tokenizer.vocabSize) : host.vocabSize;
    const decoder = host.tokenizer?.createStreamDecoder();
    const stop = new StopMatcher(stops);
    for (let i = 0; i < maxTokens; i++) {
      await nextTick();
      aborted(options.signal);
      const token = sample(logits.subarray(0, samplable), sampling, rng, session.recentTokens(sampling.repetitionWindow));
      const isEos = token === host.eosTokenId && (options.stopAtEos ?? true);
      const last = isEos || i === maxTokens - 1;
      let text = isEos ? '' : decoder?.push(token) ?? '';
      if (last) text += decoder?.flush() ?? '';
      const { emit, stopped } = stop.push(text);
      const out = last && !stopped ? emit + stop.flush() : emit;
      // A caller's session takes in every sampled token, so it can go on where this generation ended.
      const feedBack = options.session || !(last || stopped);
      if (!(isEos || stopped) || out) yield { token, text: out };
      if (feedBack) logits = session.feed([token]);
      if (isEos || stopped) return;
    }
  } finally {
    if (!options.session) session.dispose();
  }
}
