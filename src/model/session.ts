// A session: one conversation's recurrent state. Its size is fixed by the model (per layer a conv window
// and an SSM state, plus the last logits), whatever number of tokens it has seen.
import { BimambaError } from '../errors.js';
import type { Graph, LayerState } from './forward.js';
import { forward } from './forward.js';
import { HISTORY, writeSnapshot } from './snapshot.js';
import { checkTokens } from './tokens.js';

type Ptr = number;

/** What a session needs from its model; the model implements it. */
export interface SessionHost {
  graph(): Graph; // throws DISPOSED once the model is gone
  stateBytes: number; // layer states + last logits
  fingerprint: number; // identifies the model a snapshot belongs to
  release(session: Session): void;
  register(session: Session): void;
}

export class Session {
  readonly host: SessionHost;
  private block: Ptr;
  private disposed = false;
  /** Number of tokens fed so far. */
  tokensSeen = 0;
  /** The last tokens fed (at most HISTORY), oldest first. */
  history: number[] = [];
  /** @internal a generate() is running on this session (a second one would interleave its tokens). */
  generating = false;

  /** @internal use model.createSession() */
  constructor(host: SessionHost, block: Ptr) {
    this.host = host;
    this.block = block;
    host.register(this);
  }

  private live(): Graph {
    if (this.disposed) throw new BimambaError('DISPOSED', 'this session has been disposed');
    return this.host.graph();
  }

  /** The per-layer state pointers inside this session's block. */
  private layerStates(g: Graph): LayerState[] {
    const { convStateFloats, ssmStateFloats } = g.shapes;
    const per = 4 * (convStateFloats + ssmStateFloats);
    return g.weights.layers.map((_, i) => ({ conv: this.block + i * per, ssm: this.block + i * per + 4 * convStateFloats }));
  }

  private get logitsPtr(): Ptr {
    return this.block + this.host.stateBytes - 4 * this.live().shapes.vocab;
  }

  /** Reset to the empty state. */
  reset(): void {
    const g = this.live();
    g.heap.u8(this.block, this.host.stateBytes).fill(0);
    this.tokensSeen = 0;
    this.history = [];
  }

  /**
   * Feed tokens, in chunks of the model's prefill size. `onLogits(position, logits)` (if given) sees the
   * logits of every position; without it only the last position's are computed. Returns a copy of the
   * last position's logits.
   */
  feed(tokens: ArrayLike<number>, onLogits?: (position: number, logits: Float32Array) => void): Float32Array {
    const g = this.live();
    const V = g.shapes.vocab;
    checkTokens(tokens, V);
    if (tokens.length === 0) throw new BimambaError('BAD_ARGUMENT', 'feed() needs at least one token');
    const states = this.layerStates(g);
    const maxT = g.scratch.maxT;
    for (let t0 = 0; t0 < tokens.length; t0 += maxT) {
      const T = Math.min(maxT, tokens.length - t0);
      const chunk = Array.prototype.slice.call(tokens, t0, t0 + T) as number[];
      const last = t0 + T === tokens.length;
      const firstLogit = onLogits ? 0 : last ? T - 1 : T;
      forward(g, states, chunk, T, firstLogit);
      if (onLogits) {
        for (let t = 0; t < T; t++) onLogits(this.tokensSeen + t, g.heap.f32(g.scratch.logits + 4 * t * V, V));
      }
      if (last) g.heap.f32(this.logitsPtr, V).set(g.heap.f32(g.scratch.logits + 4 * (T - 1 - firstLogit) * V, V));
      this.tokensSeen += T;
    }
    const h = this.history.concat(Array.from(tokens).slice(-HISTORY));
    this.history = h.slice(-HISTORY);
    return this.lastLogits();
  }

  /** A copy of the logits after the last token fed (zeros before any). */
  lastLogits(): Float32Array {
    const g = this.live();
    return g.heap.f32(this.logitsPtr, g.shapes.vocab).slice();
  }

  /** The raw state bytes (layer states, then the last logits): a view valid until memory grows. */
  stateView(): Uint8Array {
    this.live();
    return this.host.graph().heap.u8(this.block, this.host.stateBytes);
  }

  /** The session as bytes of a fixed size, for `model.restoreSession()` (layout: src/model/snapshot.ts). */
  snapshot(): Uint8Array {
    return writeSnapshot(this);
  }

  /** A new session with a copy of this one's state. */
  fork(): Session {
    const g = this.live();
    const copy = new Session(this.host, g.heap.alloc(this.host.stateBytes, 'session state'));
    copy.stateView().set(this.stateView());
    copy.tokensSeen = this.tokensSeen;
    copy.history = this.history.slice();
    return copy;
  }

  /** Free this session's state. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host.release(this);
  }

  /** @internal the state block, for the model to free. */
  get stateBlock(): Ptr {
    return this.block;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal mark disposed without touching memory (the model is gone). */
  markDisposed(): void {
    this.disposed = true;
  }
}
