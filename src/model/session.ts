// A session: one conversation's recurrent state. Its size is fixed by the model (per layer a conv window
// and an SSM state, plus the last logits), whatever number of tokens it has seen.
import { BimambaError } from '../errors.js';
import type { Graph, LayerState } from './forward.js';
import type { StateLayout } from './memory.js';
import { forward } from './forward.js';
import { writeSnapshot } from './snapshot.js';
import { MAX_RECENT_TOKENS } from '../generate/defaults.js';
import type { GenerationSession } from '../generate/generate.js';
import { checkTokens } from '../generate/tokens.js';

type Ptr = number;


/**
 * @internal What the sessions of one model run on, shared by them and the model: the graph (null once the
 * model is disposed), the size of a session's state and the model's fingerprint.
 */
export interface ModelRuntime {
  graph: Graph | null;
  readonly layout: StateLayout;
  readonly stateBytes: number;
  readonly fingerprint: number;
}

export class Session implements GenerationSession {
  private readonly runtime: ModelRuntime;
  private readonly block: Ptr;
  private disposed = false;
  private seen = 0;
  private recent: number[] = [];
  /** A feed() is running: its onLogits may not feed this session again (the state would change mid-feed). */
  private feeding = false;
  /** @internal a generate() is running on this session (a second one would interleave its tokens). */
  generating = false;

  /** Sessions come from model.createSession() and model.restoreSession(). */
  private constructor(runtime: ModelRuntime, block: Ptr) {
    this.runtime = runtime;
    this.block = block;
  }

  /** @internal a session over `block` (stateBytes of the model's heap, owned by the session from now on) */
  static create(runtime: ModelRuntime, block: Ptr): Session {
    return new Session(runtime, block);
  }

  /** Number of tokens fed so far. */
  get tokensSeen(): number {
    return this.seen;
  }

  /** @internal whether this session runs on `runtime` (that is, on the model that owns it). */
  runsOn(runtime: ModelRuntime): boolean {
    return this.runtime === runtime;
  }

  /** Whether this session (or its model) has been disposed. */
  get isDisposed(): boolean {
    return this.disposed || this.runtime.graph === null;
  }

  private live(): Graph {
    if (this.disposed) throw new BimambaError('DISPOSED', 'this session has been disposed');
    const g = this.runtime.graph;
    if (!g) throw new BimambaError('DISPOSED', 'the model of this session has been disposed');
    return g;
  }

  /** The per-layer state pointers inside this session's block. */
  private layerStates(g: Graph): LayerState[] {
    const { layerBytes, convBytes } = this.runtime.layout;
    return g.weights.layers.map((_, i) => ({ conv: this.block + i * layerBytes, ssm: this.block + i * layerBytes + convBytes }));
  }

  private logitsPtr(): Ptr {
    return this.block + this.runtime.layout.logitsOffset;
  }

  /** Reset to the empty state. */
  reset(): void {
    const g = this.live();
    if (this.feeding) throw new BimambaError('BAD_ARGUMENT', "reset() called on a session from its own feed's onLogits");
    g.heap.u8(this.block, this.runtime.stateBytes).fill(0);
    this.seen = 0;
    this.recent = [];
  }

  /**
   * Feed tokens, in chunks of the model's prefill size. `onLogits(position, logits)` (if given) sees the
   * logits of every position, as a copy of its own (it may keep it, and may feed other sessions of the
   * model, but not this one); without it only the last position's are computed. Returns a copy of the last
   * position's logits.
   */
  feed(tokens: ArrayLike<number>, onLogits?: (position: number, logits: Float32Array) => void): Float32Array {
    this.advance(tokens, onLogits);
    return this.lastLogits();
  }

  /**
   * @internal feed() without the copy of the last logits: they stay in this session's block, where
   * generation samples them (samplingLogits).
   */
  advance(tokens: ArrayLike<number>, onLogits?: (position: number, logits: Float32Array) => void): void {
    const g = this.live();
    const V = g.shapes.vocab;
    checkTokens(tokens, V);
    if (tokens.length === 0) throw new BimambaError('BAD_ARGUMENT', 'feed() needs at least one token');
    if (this.feeding) throw new BimambaError('BAD_ARGUMENT', "feed() called on a session from its own feed's onLogits: feed another session, or feed this one after feed() returns");
    this.feeding = true;
    try {
      this.feedChunks(g, tokens, onLogits);
    } finally {
      this.feeding = false;
    }
  }

  private feedChunks(g: Graph, tokens: ArrayLike<number>, onLogits?: (position: number, logits: Float32Array) => void): void {
    const V = g.shapes.vocab;
    const states = this.layerStates(g);
    const maxT = g.scratch.maxT;
    const all = Array.from(tokens);
    for (let t0 = 0; t0 < all.length; t0 += maxT) {
      if (t0 > 0) this.live(); // an onLogits that disposed this session (or its model) ends the feed here
      const T = Math.min(maxT, all.length - t0);
      const last = t0 + T === all.length;
      const firstLogit = onLogits ? 0 : last ? T - 1 : T;
      const chunk = all.slice(t0, t0 + T);
      forward(g, [{ state: states, T }], chunk, T, firstLogit);
      const lastRow = (T - 1 - firstLogit) * V; // the chunk's last position in scratch.logits
      this.seen += T;
      this.remember(chunk);
      if (!onLogits) {
        if (last) g.heap.f32(this.logitsPtr(), V).set(g.heap.f32(g.scratch.logits + 4 * lastRow, V));
        continue;
      }
      // The callback gets a copy, not a view of the model's shared scratch: a callback that feeds another
      // session of this model overwrites the scratch.
      const logits = g.heap.f32(g.scratch.logits, T * V).slice();
      if (last) g.heap.f32(this.logitsPtr(), V).set(logits.subarray(lastRow));
      for (let t = 0; t < T; t++) onLogits(this.seen - T + t, logits.subarray(t * V, (t + 1) * V));
    }
  }

  /**
   * @internal Feed tokens without computing logits, handing `onRows` every position's hidden state after
   * the final norm (`[T, d_model]` floats per chunk of T, a copy): what embeddings are made of.
   */
  feedHidden(tokens: ArrayLike<number>, onRows: (rows: Float32Array, T: number) => void): void {
    const g = this.live();
    checkTokens(tokens, g.shapes.vocab);
    if (tokens.length === 0) throw new BimambaError('BAD_ARGUMENT', 'feedHidden() needs at least one token');
    const states = this.layerStates(g);
    const all = Array.from(tokens);
    const D = g.shapes.dModel;
    for (let t0 = 0; t0 < all.length; t0 += g.scratch.maxT) {
      const chunk = all.slice(t0, t0 + g.scratch.maxT);
      const T = chunk.length;
      forward(g, [{ state: states, T }], chunk, T, T); // no head
      g.ops.rmsnorm(g.scratch.normed, g.scratch.residual, g.weights.normF, T, D, g.cfg.norm_eps);
      this.seen += T;
      this.remember(chunk);
      onRows(g.heap.f32(g.scratch.normed, T * D).slice(), T);
    }
  }

  /**
   * @internal Feed `tokens[i]` to `sessions[i]` (distinct sessions of one model, one token each) in one
   * forward pass for up to the model's prefill chunk of sessions: the projections and the LM head read
   * their weights once for all of them, and each session gets the same logits and state, bit for bit, as
   * fed alone (src/model/forward.ts).
   */
  static feedBatch(sessions: readonly Session[], tokens: readonly number[]): void {
    if (sessions.length === 0 || sessions.length !== tokens.length) {
      throw new BimambaError('BAD_ARGUMENT', `feedBatch() needs one token for each of at least one session; got ${sessions.length} sessions and ${tokens.length} tokens`);
    }
    const g = sessions[0].live();
    for (const s of sessions) {
      s.live();
      if (s.runtime !== sessions[0].runtime) throw new BimambaError('BAD_ARGUMENT', 'feedBatch() takes sessions of one model');
    }
    if (new Set(sessions).size !== sessions.length) throw new BimambaError('BAD_ARGUMENT', 'feedBatch() takes each session once');
    checkTokens(tokens, g.shapes.vocab); // all of them before any group is fed
    const maxT = g.scratch.maxT;
    for (let i0 = 0; i0 < sessions.length; i0 += maxT) {
      Session.feedParts(sessions.slice(i0, i0 + maxT).map((session, j) => ({ session, tokens: [tokens[i0 + j]], logits: true })));
    }
  }

  /** @internal The most rows one forward call takes (the model's prefill chunk): Session.feed's pieces. */
  get rowsPerCall(): number {
    return this.live().scratch.maxT;
  }

  /**
   * @internal One forward call over `parts`, each a run of tokens of one session (a prompt piece, or one
   * decoding token), at most rowsPerCall rows in all: each part is fed as one feed() call of its tokens
   * would feed them (its state rounded once at its end), so a session whose prompt is fed in the pieces
   * feed() cuts gets the same state, bit for bit. A session may have several parts, fed in their order.
   * A part with `logits` ends with its last position's logits in its session's block (as feed() leaves
   * them); the head runs only for those rows.
   */
  static feedParts(parts: ReadonlyArray<{ session: Session; tokens: readonly number[]; logits: boolean }>): void {
    if (parts.length === 0) throw new BimambaError('BAD_ARGUMENT', 'feedParts() needs at least one part');
    const first = parts[0].session;
    const g = first.live();
    const V = g.shapes.vocab;
    let T = 0;
    for (const p of parts) {
      p.session.live();
      if (p.session.runtime !== first.runtime) throw new BimambaError('BAD_ARGUMENT', 'feedParts() takes sessions of one model');
      if (p.session.feeding) throw new BimambaError('BAD_ARGUMENT', "feedParts() called on a session from its own feed's onLogits");
      if (p.tokens.length === 0) throw new BimambaError('BAD_ARGUMENT', 'feedParts() needs at least one token in each part');
      checkTokens(p.tokens, V);
      T += p.tokens.length;
    }
    if (T > g.scratch.maxT) throw new BimambaError('BAD_ARGUMENT', `feedParts() takes at most ${g.scratch.maxT} rows in one call; got ${T}`);
    const ids: number[] = [];
    const logitRows: number[] = [];
    for (const p of parts) {
      for (const id of p.tokens) ids.push(id);
      if (p.logits) logitRows.push(ids.length - 1);
    }
    forward(g, parts.map((p) => ({ state: p.session.layerStates(g), T: p.tokens.length })), ids, T, logitRows);
    const logits = g.heap.f32(g.scratch.logits, logitRows.length * V);
    let j = 0;
    for (const p of parts) {
      if (p.logits) {
        g.heap.f32(p.session.logitsPtr(), V).set(logits.subarray(j * V, (j + 1) * V));
        j++;
      }
      p.session.seen += p.tokens.length;
      p.session.remember(Array.from(p.tokens));
    }
  }

  private remember(tokens: number[]): void {
    const r = this.recent.concat(tokens.slice(-MAX_RECENT_TOKENS));
    this.recent = r.length > MAX_RECENT_TOKENS ? r.slice(-MAX_RECENT_TOKENS) : r;
  }

  /** @internal the last `n` tokens fed (at most MAX_RECENT_TOKENS), oldest first. */
  recentTokens(n: number): number[] {
    return n <= 0 ? [] : this.recent.slice(-n);
  }

  /**
   * @internal The first `n` of the last logits, for the sampler: a view into WASM memory (greedy picks run
   * the WASM argmax where they lie), valid until the next feed of any session of this model. Nothing is
   * copied unless `writable`: then they are copied once, inside WASM memory, into the model's logits
   * scratch (where the forward pass writes logits; free between forward calls), and whoever samples may
   * change them in place (the repetition penalty, a mask) while the session's own logits stay as they were.
   */
  samplingLogits(n: number, writable: boolean): Float32Array {
    const g = this.live();
    const own = g.heap.f32(this.logitsPtr(), n);
    if (!writable) return own;
    const row = g.heap.f32(g.scratch.logits, n);
    row.set(own);
    return row;
  }

  /** @internal The argmax kernel over logits in this model's memory (a view such as samplingLogits()). */
  argmax(logits: Float32Array): number {
    const g = this.live();
    if (logits.buffer !== g.heap.memory.buffer) throw new BimambaError('BAD_ARGUMENT', 'argmax: the logits must be a view into the model memory');
    return g.ops.argmax(logits.byteOffset, logits.length);
  }

  /** A copy of the logits after the last token fed (zeros before any). */
  lastLogits(): Float32Array {
    const g = this.live();
    return g.heap.f32(this.logitsPtr(), g.shapes.vocab).slice();
  }

  /** @internal the raw state bytes (layer states, then the last logits): a view valid until memory grows. */
  stateView(): Uint8Array {
    return this.live().heap.u8(this.block, this.runtime.stateBytes);
  }

  /** @internal the model fingerprint a snapshot of this session carries. */
  get fingerprint(): number {
    return this.runtime.fingerprint;
  }

  /** @internal set the tokens-seen count and the recent tokens (restoring a snapshot). */
  restoreCounters(seen: number, recent: number[]): void {
    this.seen = seen;
    this.recent = recent.slice(-MAX_RECENT_TOKENS);
  }

  /** The session as bytes of a fixed size, for `model.restoreSession()` (layout: src/model/snapshot.ts). */
  snapshot(): Uint8Array {
    this.live();
    return writeSnapshot(this, this.runtime.layout.stateType);
  }

  /** A new session with a copy of this one's state. */
  fork(): Session {
    const g = this.live();
    const copy = new Session(this.runtime, g.heap.alloc(this.runtime.stateBytes, 'session state'));
    copy.stateView().set(this.stateView());
    copy.seen = this.seen;
    copy.recent = this.recent.slice();
    return copy;
  }

  /** Free this session's state. Safe to call twice, and after the model's dispose(). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runtime.graph?.heap.release(this.block);
  }

  /** `using session = model.createSession()` disposes it at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
