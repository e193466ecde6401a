// A loaded model: its WASM instance and memory, weights, tokenizer, and the sessions that run on it.
import { throughCache } from '../cache/index.js';
import type { CacheOption } from '../cache/types.js';
import { BimambaError } from '../errors.js';
import { loadBimambaFile, type BimambaHeader, type ModelSource } from '../format/bimamba.js';
import { checkSupported, type ModelConfig } from '../format/config.js';
import { defaultModelUrl } from '../default-model.js';
import { chat, completeChat, type ChatOptions } from '../chat/chat.js';
import type { ChatMessage } from '../chat/template.js';
import { complete, generate, type Completion, type GeneratedToken, type GenerateOptions } from '../generate/generate.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { createCore, type Core, type CoreOptions } from '../wasm/core.js';
import { createOps, timedOps } from '../wasm/kernel-set.js';
import type { PoolStats } from '../wasm/pool.js';
import type { Graph } from './forward.js';
import { embedding } from './embed.js';
import { checkMemoryNeed, kernelSetOptions, STATE_TYPES, stateLayout, type StateType } from './memory.js';
import { allocScratch } from './scratch.js';
import { Session, type ModelRuntime } from './session.js';
import { shapesOf } from './shapes.js';
import { readSnapshot } from './snapshot.js';
import { checkTokens } from '../generate/tokens.js';
import { weightsFrom } from './weights.js';

export interface LoadOptions extends CoreOptions {
  /** Tokens per prefill chunk: activation memory grows with it (default 64). */
  prefillChunk?: number;
  /**
   * Check the CRC-32 of every tensor and of the metadata as the file loads (default false: it reads
   * every byte once more, about 1 GB/s); a corrupt file is refused with an error naming the tensor.
   */
  verify?: boolean;
  /**
   * Run the exact f32 kernels instead of the fast ones (default false). The fast path quantizes the
   * inputs of 1-bit projections to 12 bits and those of an int8 LM head to 16 bits, per block of 256
   * (error bounds in assembly/README.md); the exact path gives the reference results.
   */
  exact?: boolean;
  /**
   * Bits of the fast path's 1-bit-layer lookup tables: 12 (the default) or 8, whose tables are one byte
   * plane (half the lookups) for activations of |q| <= 31 per block, a bound 66 times looser (docs/speed.md
   * for what it costs in accuracy). Ignored with `exact`.
   */
  activationBits?: 8 | 12;
  /**
   * Called as the file arrives: bytes read so far and the file's size (header included); `source` says,
   * for a load with `cache`, whether the bytes come from the network or the cached copy.
   */
  onProgress?: (progress: { loaded: number; total: number; source?: 'network' | 'cache' }) => void;
  /**
   * Keep an http(s) model so that later loads read it without a request (docs/caching.md): `true`,
   * `'revalidate'` (ask the server whether the copy is current), or a CacheObject of your own. A cached
   * load always verifies the file's checksums; a damaged copy is dropped and fetched again.
   */
  cache?: CacheOption;
  /** Problems that do not stop a load (a damaged cached copy refetched, no room to cache); default console.warn. */
  onWarning?: (warning: BimambaError) => void;
  /**
   * How sessions store the SSM state: 'bf16' (the default on the fast path) or 'f32' (the default with
   * `exact`). bf16 halves every session's state and snapshot (the 780M's from 75 MB to 38 MB) and the
   * memory traffic of decoding, for 8 significant bits per stored value instead of 24: the arithmetic
   * stays f32, the state is rounded as it is stored (README "The session state" for what it costs), as
   * llama.cpp keeps its KV cache in f16 by default.
   */
  stateType?: StateType;
  /**
   * The tokenizer to use in place of the file's own (or for a file that holds none), from
   * `loadTokenizer(tokenizer.json or tokenizer.model)`.
   */
  tokenizer?: Tokenizer;
  /** @internal time every operation of the graph into this map (ms by operation): the bench's per-kernel breakdown */
  opTimes?: Map<string, number>;
  /** @internal count the worker pool's jobs and the time inside them here (the bench's serial fraction) */
  poolStats?: PoolStats;
}

/** FNV-1a over a string: identifies a model's header for snapshots. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Model {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer | null;
  /** Bytes of one session's state (what a snapshot holds besides its 24-byte header). */
  readonly stateBytes: number;
  /** Identifies the model file (its metadata and tensor table): a snapshot restores only into the same model. */
  readonly fingerprint: number;
  /** Threads the model's big kernels run on (1: the calling thread alone). */
  readonly threads: number;
  /** Whether the model runs the exact kernels (LoadOptions.exact). */
  readonly exact: boolean;
  /** How its sessions store the SSM state (LoadOptions.stateType). */
  readonly stateType: StateType;
  /** @internal whether a text prompt gets BOS by default (the tokenizer's post-processor) */
  readonly addBosByDefault: boolean;
  /** The Jinja chat template the model file holds (its `chat_template`), or null: chat then uses DEFAULT_CHAT_TEMPLATE. */
  readonly chatTemplate: string | null;
  private core: Core | null;
  private readonly runtime: ModelRuntime;

  /** Models come from loadModel(). */
  private constructor(core: Core, g: Graph, tokenizer: Tokenizer | null, fingerprint: number, exact: boolean, stateType: StateType, chatTemplate: string | null) {
    this.core = core;
    this.chatTemplate = chatTemplate;
    this.threads = core.pool?.threads ?? 1;
    this.exact = exact;
    this.stateType = stateType;
    this.config = g.cfg;
    this.tokenizer = tokenizer;
    this.fingerprint = fingerprint;
    const layout = stateLayout(g.cfg, stateType);
    this.stateBytes = layout.total;
    this.runtime = { graph: g, layout, stateBytes: this.stateBytes, fingerprint };
    this.addBosByDefault = tokenizer?.addsBos ?? false;
  }

  /** @internal */
  static create(core: Core, g: Graph, tokenizer: Tokenizer | null, fingerprint: number, exact: boolean, stateType: StateType, chatTemplate: string | null = null): Model {
    return new Model(core, g, tokenizer, fingerprint, exact, stateType, chatTemplate);
  }

  /** Size of the vocabulary the logits cover. */
  get vocabSize(): number {
    return this.config.vocab_size;
  }
  /** BOS: the id the checkpoint's config gave (the converter read it), else the tokenizer's. */
  get bosTokenId(): number | null {
    return this.config.bos_token_id ?? this.tokenizer?.bosTokenId ?? null;
  }
  /** EOS (generation stops there): the id the checkpoint's config gave, else the tokenizer's. */
  get eosTokenId(): number | null {
    return this.config.eos_token_id ?? this.tokenizer?.eosTokenId ?? null;
  }
  /** Bytes of WASM memory this model holds. */
  get memoryBytes(): number {
    return this.core?.memory.buffer.byteLength ?? 0;
  }

  /**
   * Where this model's WASM memory goes, in bytes: every allocated block by what it holds (the weights
   * as the file has them, what is derived from them at load, the activation buffers, the fast kernels'
   * scratch, the live sessions' state), and the rest (the module's static data, and memory freed or
   * not yet used). The parts add up to `total` = memoryBytes.
   */
  get memory(): { total: number; blocks: Record<string, number>; sessions: number; other: number } {
    if (!this.core) return { total: 0, blocks: {}, sessions: 0, other: 0 };
    const blocks = Object.fromEntries(this.core.heap.allocatedByWhat());
    const total = this.memoryBytes;
    const allocated = Object.values(blocks).reduce((a, b) => a + b, 0);
    return { total, blocks, sessions: Math.round((blocks['session state'] ?? 0) / this.stateBytes), other: total - allocated };
  }

  private graph(): Graph {
    const g = this.runtime.graph;
    if (!g) throw new BimambaError('DISPOSED', 'this model has been disposed');
    return g;
  }

  /** @internal whether `session` runs on this model (generate refuses another model's session, and what is not a session). */
  owns(session: unknown): boolean | 'not a session' {
    return session instanceof Session ? session.runsOn(this.runtime) : 'not a session';
  }

  /** A fresh session (empty state). */
  createSession(): Session {
    const g = this.graph();
    const s = Session.create(this.runtime, g.heap.alloc(this.stateBytes, 'session state'));
    s.reset();
    return s;
  }

  /** Logits at every position of `tokens`, from a fresh state: `[T * vocabSize]`. */
  logits(tokens: ArrayLike<number>): Float32Array {
    const V = this.vocabSize;
    this.graph();
    checkTokens(tokens, V); // before allocating tokens.length * V floats
    if (tokens.length === 0) throw new BimambaError('BAD_ARGUMENT', 'logits() needs at least one token');
    const out = new Float32Array(tokens.length * V);
    const s = this.createSession();
    try {
      s.feed(tokens, (t, l) => out.set(l, t * V));
    } finally {
      s.dispose();
    }
    return out;
  }

  /** A new session from snapshot bytes made by this same model. */
  restoreSession(bytes: Uint8Array): Session {
    const s = this.createSession();
    try {
      readSnapshot(bytes, s, this.runtime.layout, (t) => stateLayout(this.config, t), this.vocabSize);
    } catch (e) {
      s.dispose();
      throw e;
    }
    return s;
  }

  /** Stream tokens for a prompt (text or token ids). */
  generate(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): AsyncGenerator<GeneratedToken> {
    this.graph();
    return generate(this, prompt, options);
  }

  /** Generate to the end and return the whole text, the token ids, the finish reason and the usage. */
  complete(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): Promise<Completion> {
    this.graph();
    return complete(this, prompt, options);
  }

  /**
   * An embedding of a text (or token ids): the mean of the last hidden states after the final norm,
   * L2-normalised; `config.d_model` floats.
   */
  embed(input: string | ArrayLike<number>): Float32Array {
    this.graph();
    return embedding(this, input);
  }

  /**
   * Stream the assistant's reply to a conversation: the messages rendered by the model's chat template
   * (or `options.chatTemplate`, or DEFAULT_CHAT_TEMPLATE), then generated as generate() does.
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): AsyncGenerator<GeneratedToken> {
    this.graph();
    return chat(this, messages, options);
  }

  /** The whole reply to a conversation, with it as an assistant message. */
  completeChat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<Completion & { message: ChatMessage }> {
    this.graph();
    return completeChat(this, messages, options);
  }

  /**
   * Free everything: the model's blocks are not released one by one, since the whole WASM memory goes with
   * the instance. Sessions of this model become unusable.
   */
  dispose(): void {
    if (!this.core) return;
    this.core.pool?.dispose();
    this.core = null;
    this.runtime.graph = null; // sessions still referenced elsewhere no longer keep the memory alive
  }

  /** `using model = await loadModel(...)` disposes it at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Load a `.bimamba` model: a path (Node, Deno), a URL, bytes, a Blob or File, a Response or a byte
 * stream; without a source, the built-in model shipped beside the bundle (defaultModelUrl()).
 * On Cloudflare Workers pass the precompiled WASM module as `options.wasm`.
 */
export async function loadModel(source?: ModelSource, options: LoadOptions = {}): Promise<Model> {
  if (typeof options !== 'object' || options === null) throw new BimambaError('BAD_ARGUMENT', `the load options must be an object, not ${String(options)}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new BimambaError('BAD_ARGUMENT', 'onProgress must be a function');
  const chunk = options.prefillChunk ?? 64;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 4096) throw new BimambaError('BAD_ARGUMENT', `invalid prefillChunk: ${chunk} (an integer in [1, 4096])`);
  if (options.stateType !== undefined && !STATE_TYPES.includes(options.stateType)) {
    throw new BimambaError('BAD_ARGUMENT', `invalid stateType: ${JSON.stringify(options.stateType)} (${STATE_TYPES.map((t) => `'${t}'`).join(' or ')})`);
  }
  const t = options.tokenizer as Partial<Tokenizer> | undefined;
  if (t !== undefined && (typeof t !== 'object' || t === null || typeof t.encode !== 'function' || typeof t.createStreamDecoder !== 'function')) {
    throw new BimambaError('BAD_ARGUMENT', 'tokenizer must be a Tokenizer (from loadTokenizer)');
  }
  if (options.activationBits !== undefined && options.activationBits !== 8 && options.activationBits !== 12) {
    throw new BimambaError('BAD_ARGUMENT', `invalid activationBits: ${JSON.stringify(options.activationBits)} (8 or 12)`);
  }
  const core = await createCore(options);
  try {
    return await loadInto(core, source ?? defaultModelUrl(), options, chunk);
  } catch (e) {
    core.pool?.dispose();
    throw e;
  }
}

async function loadInto(core: Core, source: ModelSource, options: LoadOptions, chunk: number): Promise<Model> {
  // the whole need is checked from the header, before the weights are allocated or read
  const exact = options.exact ?? false;
  const stateType = options.stateType ?? (exact ? 'f32' : 'bf16');
  let dataStart = 0;
  let origin: { source?: 'network' | 'cache' } = {}; // set for a load through the cache
  const onHeader = (h: BimambaHeader) => {
    checkSupported(h.config);
    checkMemoryNeed(h, core, chunk, options.maxMemoryBytes, exact, stateType, options.activationBits);
    dataStart = h.dataStart;
    options.onProgress?.({ loaded: dataStart, total: dataStart + h.dataBytes, ...origin });
  };
  const onProgress = options.onProgress && ((done: number, total: number) => options.onProgress!({ loaded: dataStart + done, total: dataStart + total, ...origin }));
  const file = await throughCache(source, options, (from, via) => {
    origin = via ? { source: via.origin } : {};
    const checked = via ? (h: BimambaHeader) => { via.check(h); onHeader(h); } : onHeader;
    return loadBimambaFile(from, core.heap, { verify: via ? true : options.verify, onHeader: checked, onProgress });
  });
  const cfg = file.config;
  const shapes = shapesOf(cfg);
  const weights = weightsFrom(file, cfg, core.heap);
  const scratch = allocScratch(core.heap, shapes, chunk);
  const tokenizer = options.tokenizer ?? (file.tokenizerJson ? loadTokenizer(file.tokenizerJson) : null);
  // the weights are covered by their checksums (part of the metadata) or, without them, by a CRC of the data
  const fingerprint = fnv1a(JSON.stringify(file.metadata) + JSON.stringify([...file.tensors].map(([n, t]) => [n, t.dtype, t.shape])) + String(file.dataCrc));
  const kernelOps = createOps(core, kernelSetOptions(shapes, chunk, exact, stateType, options.activationBits));
  const ops = options.opTimes ? timedOps(kernelOps, options.opTimes) : kernelOps;
  const g: Graph = { ops, heap: core.heap, cfg, shapes, weights, scratch };
  if (core.pool && options.poolStats) core.pool.stats = options.poolStats;
  return Model.create(core, g, tokenizer, fingerprint, exact, stateType, file.metadata.chat_template || null);
}
