// How the server turns a text prompt into token ids. In the request's own thread by default (Workers
// have no threads); `bimamba serve` encodes in a worker thread with a time budget instead
// (encoder-node.ts), so a tokenizer that takes exponential time on some prompt cannot freeze the server.
import type { Model } from '../model/model.js';

/** Encode `text` (no BOS); rejects when `signal` aborts or the encoder gives up. */
export type PromptEncoder = (text: string, signal: AbortSignal) => Promise<number[]>;

export function inThreadEncoder(model: Model): PromptEncoder {
  return async (text) => model.tokenizer!.encode(text);
}
