// One completion: encode a text prompt (with a time budget under `serve`), take the named session's lock,
// wait for a turn, restore its parked snapshot (or the longest cached prefix of the prompt, or start
// afresh), feed the rest of the prompt in its fixed cuts (prompt-cache.ts) and their pieces through the
// batcher's steps, with the other completions' prompt pieces and decoding tokens (batcher.ts), saving the
// prompt cache's entries on the way, generate (the decoding steps batched likewise), and
// park the session again. The lock comes first, so a second request of a busy session waits without
// holding a turn that an unrelated request could use. Only an in-flight request holds a live session in
// WASM memory, so the live sessions never outnumber the gate's `active` turns.
import { BimambaError } from '../errors.js';
import { generate, promptIds, type GeneratedToken } from '../generate/generate.js';
import { logNormalizer, topIds } from '../generate/logprobs.js';
import type { Model } from '../model/model.js';
import { MAX_RECENT_TOKENS } from '../generate/defaults.js';
import type { Session } from '../model/session.js';
import type { DecodeBatcher } from './batcher.js';
import type { PromptEncoder } from './encoder.js';
import type { Gate, Locks } from './gate.js';
import { FEED_SLICE, feedCuts, feedInCuts, feedPieces } from '../chat/feed.js';
import { unwrapOwned, wrapOwned, type ParkedIndex } from './parked.js';
import type { PromptCache } from './prompt-cache.js';
import { ApiError, checkPromptTokens, type CompletionRequest, type Limits } from './request.js';
import type { SnapshotStore } from './store.js';

export interface Engine {
  model: Model;
  store: SnapshotStore;
  gate: Gate;
  locks: Locks;
  batcher: DecodeBatcher;
  parked: ParkedIndex;
  encode: PromptEncoder;
  limits: Limits;
  /** The prompt cache, or null when it is off. */
  promptCache?: PromptCache | null;
  /** Counters for /metrics. */
  counters?: EngineCounters;
}

export interface EngineCounters {
  requests: number;
  promptTokens: number;
  generatedTokens: number;
}

/** Who asks, as the guard learned it. */
export interface Requester {
  /** The API key's owner id ('' without keys). */
  owner: string;
  /** The client's address, or null when unknown. */
  client: string | null;
}

/** What the route learns as the completion starts: whether a named session was found or starts afresh. */
export interface SessionOutcome {
  status: 'new' | 'continued' | null;
}

/** One prompt token's log-probability under the tokens before it (null for the first), with `top` alternatives. */
export interface PromptLogprob {
  token: number;
  logprob: number | null;
  top: Array<{ token: number; logprob: number }> | null;
}

/** What a completion tells its route besides the generated items. */
export interface CompletionInfo {
  /** The prompt as token ids. */
  promptIds?: number[];
  /** Prompt tokens restored from the prompt cache. */
  cachedTokens?: number;
  /** With `req.echo`: every prompt token's log-probability. */
  promptLogprobs?: PromptLogprob[];
}

/** Store key of a session: the model's fingerprint first, so a store shared by two models never mixes them. */
export function sessionKey(model: Model, name: string): string {
  return `${model.fingerprint.toString(16).padStart(8, '0')}.${name}`;
}

/** Keep a prompt-cache entry; the cache only saves work, so a full or failing store costs the entry, not the request. */
async function saveEntry(cache: PromptCache, scope: string, ids: number[], length: number, cuts: number[], session: Session): Promise<void> {
  try {
    await cache.save(scope, ids, length, cuts, session.snapshot());
  } catch (e) {
    if (!(e instanceof BimambaError && e.code === 'OUT_OF_MEMORY')) console.error('bimamba serve: prompt cache:', e);
  }
}

/**
 * The generated items, the last one carrying finishReason and usage. The session is parked only when
 * the generation ran to its end: one aborted or failed midway leaves the session as it was before.
 */
export async function* runCompletion(
  engine: Engine,
  req: CompletionRequest,
  signal: AbortSignal,
  who: Requester = { owner: '', client: null },
  outcome: SessionOutcome = { status: null },
  info: CompletionInfo = {},
): AsyncGenerator<GeneratedToken> {
  const { model, store } = engine;
  const cache = engine.promptCache ?? null;
  // a text prompt is encoded first (in a worker with a time budget, under `serve`) and counted in tokens
  let encoded: number[] | null = null;
  if (typeof req.prompt === 'string' && model.tokenizer && req.prompt.length > 0) {
    encoded = await engine.encode(req.prompt, signal);
    checkPromptTokens(encoded.length, engine.limits);
  }
  const unlock = req.session === null ? () => {} : await engine.locks.acquire(req.session, signal);
  let leave = () => {};
  let session: Session | null = null;
  const seat = engine.batcher.seat(signal);
  try {
    leave = await engine.gate.enter(signal, who.client);
    // the prompt's phase and the parking are this client's own work on the thread: its budget pays (gate.ts)
    let phase = performance.now();
    const charge = () => engine.gate.charge(who.client, performance.now() - phase);
    const key = req.session === null ? null : sessionKey(model, req.session);
    const parked = key === null ? null : await store.get(key);
    let snapshot: Uint8Array | null = null;
    if (parked) {
      const stored = unwrapOwned(parked);
      if (stored.owner !== who.owner) throw new ApiError(404, `no session ${JSON.stringify(req.session)} for this API key`, 'session', 'invalid_request_error', 'session_not_found');
      snapshot = stored.snapshot;
    }
    if (snapshot) session = model.restoreSession(snapshot);
    // the bytes the live session's state still is, bit for bit, as long as it is fed nothing: parked as they are
    let unchanged: Uint8Array | null = snapshot;
    const continuing = session !== null && session.tokensSeen > 0;
    if (key !== null) outcome.status = snapshot ? 'continued' : 'new';
    if (req.prompt.length === 0 && !continuing) throw new ApiError(400, 'the prompt is empty (an empty prompt only continues a session)', 'prompt');
    // BOS starts a conversation, never the middle of one; token ids from the client are fed as given
    if (encoded !== null && !continuing && model.addBosByDefault && model.bosTokenId !== null) encoded.unshift(model.bosTokenId);
    const ids = promptIds(model, encoded ?? req.prompt, continuing ? false : undefined);
    info.promptIds = ids;
    const points = req.cachePoints ?? [];
    const cuts = feedCuts(ids.length, points);
    // From a fresh start, the longest cached cut of the prompt (echo needs every position's logits: none)
    let from = 0;
    if (!continuing && cache && !req.echo && ids.length > 0) {
      const hit = await cache.lookup(who.owner, ids, cuts, [...points, ids.length], ids.length); // this API key's entries only
      if (hit) {
        session?.dispose();
        session = model.restoreSession(hit.bytes);
        if (session.tokensSeen === hit.length) {
          from = hit.length;
          session.restoreCounters(from, ids.slice(Math.max(0, from - MAX_RECENT_TOKENS), from)); // the repetition penalty's window, as if fed
          unchanged = hit.bytes;
        }
        else {
          session.reset(); // not what its key says (a tampered shared store): start afresh
          unchanged = null;
        }
      }
    }
    if (!session) {
      session = model.createSession();
      unchanged = null;
    }
    const seenAtStart = session.tokensSeen; // every token fed counts, so an unchanged count is an unchanged state
    info.cachedTokens = from;
    // The entries this prompt leaves: its last message's end, its last full slice, and its end.
    const saves = new Set<number>();
    if (cache && !continuing && ids.length > 0) {
      const lastPoint = points.filter((p) => p < ids.length).at(-1);
      if (lastPoint !== undefined) saves.add(lastPoint);
      if (ids.length > FEED_SLICE) saves.add(Math.floor((ids.length - 1) / FEED_SLICE) * FEED_SLICE);
      saves.add(ids.length);
    }

    const t0 = performance.now();
    const top = req.logprobs ?? 0;
    if (req.echo) info.promptLogprobs = ids.length ? [{ token: ids[0], logprob: null, top: null }] : [];
    // position t's logits give token t+1's log-probability
    const onLogits = req.echo
      ? (t: number, logits: Float32Array) => {
          if (t + 1 >= ids.length) return;
          const logZ = logNormalizer(logits);
          const best = top > 0 ? topIds(logits, top).map((id) => ({ token: id, logprob: logits[id] - logZ })) : [];
          info.promptLogprobs!.push({ token: ids[t + 1], logprob: logits[ids[t + 1]] - logZ, top: best });
        }
      : undefined;
    const live = session;
    const savesAt = (cut: number) => cache !== null && saves.has(cut);
    let others = 0; // ms of the steps the prompt waited through that fed other sessions' rows
    // echo wants every position's logits: that prompt is fed alone, between the steps
    if (onLogits) await feedInCuts(live, ids, cuts, from, { signal, onLogits, atCut: (cut) => (savesAt(cut) ? saveEntry(cache!, who.owner, ids, cut, cuts, live) : undefined) });
    else {
      // the same pieces as fed alone, through the batcher's steps, up to each cut that leaves a cache entry
      const pieces = feedPieces(cuts, from, live.rowsPerCall);
      for (let i = 0; i < pieces.length;) {
        let j = i;
        while (j < pieces.length - 1 && !(pieces[j].cut && savesAt(pieces[j].end))) j++;
        others += await seat.feedPrompt(live, ids, pieces.slice(i, j + 1));
        if (savesAt(pieces[j].end)) await saveEntry(cache!, who.owner, ids, pieces[j].end, cuts, live);
        i = j + 1;
      }
    }
    const prefillMs = performance.now() - t0;
    phase += others; // its client pays for the prompt's phase as before, but not for the others' rows of the shared steps
    charge();
    if (engine.counters) {
      engine.counters.requests++;
      engine.counters.promptTokens += ids.length - (info.cachedTokens ?? 0);
    }

    const tokens = generate(model, [], {
      ...req.options,
      session,
      signal,
      addBos: false,
      logprobs: req.logprobs === null ? false : req.logprobs || true,
    }, seat.feed);
    try {
      for (let r = await tokens.next(); !r.done; r = await tokens.next()) {
        const item = r.value;
        if (item.usage) {
          item.usage.promptTokens = ids.length; // fed above, cached or not
          item.usage.prefillMs = prefillMs;
          if (engine.counters) engine.counters.generatedTokens += item.usage.generatedTokens;
        }
        seat.away(true); // until the client asks for the next token, the batch does not wait for this one
        yield item;
        seat.away(false);
      }
    } finally {
      await tokens.return(undefined);
    }
    seat.leave(); // before parking: the other completions' steps need not wait for this one's store
    if (key !== null) {
      phase = performance.now();
      // a request that fed nothing (max_tokens 0 on a cached prompt, say) parks the bytes it restored, not a copy
      const bytes = unchanged !== null && session.tokensSeen === seenAtStart ? unchanged : session.snapshot();
      await store.set(key, wrapOwned(who.owner, bytes), parked); // CONFLICT if another server saved it meanwhile
      // the owner's (or, without keys, the client's) cap on parked sessions
      for (const old of engine.parked.parked(who.owner || (who.client ?? ''), key)) await store.delete(old);
      charge();
    }
  } finally {
    seat.leave();
    session?.dispose();
    leave();
    unlock();
  }
}
