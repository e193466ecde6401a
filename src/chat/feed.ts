// Feeding a prompt in a fixed schedule of cuts: every FEED_SLICE tokens and at every given point (a chat
// prompt's message ends), one call into the model per cut. The session's bf16 state is rounded once per
// call, so where the calls fall decides the last bits of the state: the library's chat, `bimamba chat`
// and the server (with its prompt cache or without) all feed a conversation in the same cuts, and so
// reach the same state and give the same tokens.
import { BimambaError } from '../errors.js';
import { yieldToHost } from '../generate/yield.js';
import type { GenerationSession } from '../generate/generate.js';

/** A session that feed() can read a prompt into (a model's Session). */
export interface FeedableSession extends GenerationSession {
  feed(tokens: ArrayLike<number>, onLogits?: (position: number, logits: Float32Array) => void): unknown;
}

/** Tokens fed in one call between two turns given to the host (as generate() slices prompts). */
export const FEED_SLICE = 256;

/** Where a prompt of `length` tokens is cut: every FEED_SLICE multiple and every point, ascending, the end last. */
export function feedCuts(length: number, points: readonly number[]): number[] {
  const cuts = new Set<number>();
  for (let i = FEED_SLICE; i < length; i += FEED_SLICE) cuts.add(i);
  for (const p of points) if (p > 0 && p < length) cuts.add(p);
  if (length > 0) cuts.add(length);
  return [...cuts].sort((a, b) => a - b);
}

/** One forward call's worth of a prompt fed cut by cut: ids[start, end), `cut` true where a cut ends it. */
export interface FeedPiece {
  start: number;
  end: number;
  cut: boolean;
}

/**
 * The pieces feeding ids[from, cuts.at(-1)) cut by cut makes, with `rows` tokens at most in one forward
 * call (the model's prefill chunk): each cut's tokens in pieces of `rows` from the cut before it, as
 * Session.feed splits them. A batched server feeds exactly these pieces, so the state is the same bits.
 */
export function feedPieces(cuts: readonly number[], from: number, rows: number): FeedPiece[] {
  const pieces: FeedPiece[] = [];
  for (const cut of cuts) {
    if (cut <= from) continue;
    for (let start = from; start < cut; start += rows) {
      const end = Math.min(cut, start + rows);
      pieces.push({ start, end, cut: end === cut });
    }
    from = cut;
  }
  return pieces;
}

/**
 * Feed ids[from, end) into `session` cut by cut, giving the host a turn between cuts. `atCut` runs after
 * each cut (the server saves prompt-cache entries there); `onLogits` sees every position's logits, the
 * position counted from the start of `ids`. An abort stops between cuts: 'throw' throws ABORTED,
 * otherwise it returns false (the caller's generation then ends as aborted).
 */
export async function feedInCuts(
  session: FeedableSession,
  ids: readonly number[],
  cuts: readonly number[],
  from: number,
  opts: { signal?: AbortSignal; abort?: 'throw' | 'finish'; atCut?: (cut: number) => Promise<void> | void; onLogits?: (position: number, logits: Float32Array) => void } = {},
): Promise<boolean> {
  const base = session.tokensSeen - from;
  let first = true;
  for (const cut of cuts) {
    if (cut <= from) continue;
    if (!first) await yieldToHost(); // the other requests (or the page) get a turn between cuts
    first = false;
    if (opts.signal?.aborted) {
      if ((opts.abort ?? 'throw') === 'throw') throw new BimambaError('ABORTED', 'generation was aborted', { cause: opts.signal.reason });
      return false;
    }
    const onLogits = opts.onLogits;
    session.feed(ids.slice(from, cut), onLogits && ((t, l) => onLogits(t - base, l)));
    from = cut;
    await opts.atCut?.(cut);
  }
  return true;
}
