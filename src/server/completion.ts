// One completion: wait for a turn, take the named session's lock, restore its parked snapshot (or start
// afresh), generate (its decoding steps batched with the other running completions'), and park the
// session again. Only an in-flight request holds a live session in WASM memory, so the live sessions never
// outnumber the gate's `active` turns.
import { generate, type GeneratedToken } from '../generate/generate.js';
import type { Model } from '../model/model.js';
import type { Session } from '../model/session.js';
import type { DecodeBatcher } from './batcher.js';
import type { Gate, Locks } from './gate.js';
import type { CompletionRequest } from './request.js';
import type { SnapshotStore } from './store.js';

export interface Engine {
  model: Model;
  store: SnapshotStore;
  gate: Gate;
  locks: Locks;
  batcher: DecodeBatcher;
}

/** Store key of a session: the model's fingerprint first, so a store shared by two models never mixes them. */
export function sessionKey(model: Model, name: string): string {
  return `${model.fingerprint.toString(16).padStart(8, '0')}.${name}`;
}

/**
 * The generated items, the last one carrying finishReason and usage. The session is parked only when
 * the generation ran to its end: one aborted or failed midway leaves the session as it was before.
 */
export async function* runCompletion(engine: Engine, req: CompletionRequest, signal: AbortSignal): AsyncGenerator<GeneratedToken> {
  const { model, store } = engine;
  const leave = await engine.gate.enter(signal);
  let unlock = () => {};
  let session: Session | null = null;
  const seat = engine.batcher.seat(signal);
  try {
    const key = req.session === null ? null : sessionKey(model, req.session);
    if (req.session !== null) unlock = await engine.locks.acquire(req.session);
    const parked = key === null ? null : await store.get(key);
    session = parked ? model.restoreSession(parked) : model.createSession();
    const continuing = session.tokensSeen > 0;
    yield* generate(model, req.prompt, {
      ...req.options,
      session,
      signal,
      addBos: continuing ? false : undefined, // BOS starts a conversation, never the middle of one
      logprobs: req.logprobs === null ? false : req.logprobs || true,
    }, seat.feed);
    seat.leave(); // before parking: the other completions' steps need not wait for this one's store
    if (key !== null) await store.set(key, session.snapshot(), parked); // CONFLICT if another server saved it meanwhile
  } finally {
    seat.leave();
    session?.dispose();
    unlock();
    leave();
  }
}
