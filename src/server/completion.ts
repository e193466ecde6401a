// One completion: take the named session's lock, wait for a turn, restore its parked snapshot (or start
// afresh), generate (its decoding steps batched with the other running completions'), and park the
// session again. The lock comes first, so a second request of a busy session waits without holding a
// turn that an unrelated request could use. Only an in-flight request holds a live session in WASM
// memory, so the live sessions never outnumber the gate's `active` turns.
import { generate, type GeneratedToken } from '../generate/generate.js';
import type { Model } from '../model/model.js';
import type { Session } from '../model/session.js';
import type { DecodeBatcher } from './batcher.js';
import type { PromptEncoder } from './encoder.js';
import type { Gate, Locks } from './gate.js';
import { unwrapOwned, wrapOwned, type ParkedIndex } from './parked.js';
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

/** Store key of a session: the model's fingerprint first, so a store shared by two models never mixes them. */
export function sessionKey(model: Model, name: string): string {
  return `${model.fingerprint.toString(16).padStart(8, '0')}.${name}`;
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
): AsyncGenerator<GeneratedToken> {
  const { model, store } = engine;
  // a text prompt is encoded first (in a worker with a time budget, under `serve`) and counted in tokens
  let ids: number[] | null = null;
  if (typeof req.prompt === 'string' && model.tokenizer && req.prompt.length > 0) {
    ids = await engine.encode(req.prompt, signal);
    checkPromptTokens(ids.length, engine.limits);
  }
  const unlock = req.session === null ? () => {} : await engine.locks.acquire(req.session, signal);
  let leave = () => {};
  let session: Session | null = null;
  const seat = engine.batcher.seat(signal);
  try {
    leave = await engine.gate.enter(signal, who.client);
    const key = req.session === null ? null : sessionKey(model, req.session);
    const parked = key === null ? null : await store.get(key);
    let snapshot: Uint8Array | null = null;
    if (parked) {
      const stored = unwrapOwned(parked);
      if (stored.owner !== who.owner) throw new ApiError(404, `no session ${JSON.stringify(req.session)} for this API key`, 'session', 'invalid_request_error', 'session_not_found');
      snapshot = stored.snapshot;
    }
    session = snapshot ? model.restoreSession(snapshot) : model.createSession();
    const continuing = session.tokensSeen > 0;
    if (key !== null) outcome.status = snapshot ? 'continued' : 'new';
    if (req.prompt.length === 0 && !continuing) throw new ApiError(400, 'the prompt is empty (an empty prompt only continues a session)', 'prompt');
    let prompt: string | number[] = req.prompt;
    if (ids !== null) {
      // BOS starts a conversation, never the middle of one
      if (!continuing && model.addBosByDefault && model.bosTokenId !== null && ids.length > 0) ids.unshift(model.bosTokenId);
      prompt = ids;
    }
    const tokens = generate(model, prompt, {
      ...req.options,
      session,
      signal,
      addBos: continuing ? false : undefined,
      logprobs: req.logprobs === null ? false : req.logprobs || true,
    }, seat.feed);
    try {
      for (let r = await tokens.next(); !r.done; r = await tokens.next()) {
        seat.away(true); // until the client asks for the next token, the batch does not wait for this one
        yield r.value;
        seat.away(false);
      }
    } finally {
      await tokens.return(undefined);
    }
    seat.leave(); // before parking: the other completions' steps need not wait for this one's store
    if (key !== null) {
      await store.set(key, wrapOwned(who.owner, session.snapshot()), parked); // CONFLICT if another server saved it meanwhile
      // the owner's (or, without keys, the client's) cap on parked sessions
      for (const old of engine.parked.parked(who.owner || (who.client ?? ''), key)) await store.delete(old);
    }
  } finally {
    seat.leave();
    session?.dispose();
    leave();
    unlock();
  }
}
