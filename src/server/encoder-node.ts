// Prompts encoded in a worker thread (Node) with a time budget: past it the worker is ended (the only
// sure way to stop a regular expression that backtracks for ever), the request gets a 400 naming the
// budget, and a fresh worker takes the next prompt. The server's own thread never runs the tokenizer,
// so it keeps answering, and a SIGTERM is handled, whatever a prompt does to the tokenizer.
import { Worker } from 'node:worker_threads';
import { ApiError } from './request.js';
import type { PromptEncoder } from './encoder.js';

/** The worker: loads the tokenizer once from its JSON, then encodes one prompt per message. */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.library).then(({ loadTokenizer }) => {
  const tokenizer = loadTokenizer(workerData.tokenizerJson);
  parentPort.on('message', ({ id, text }) => {
    try {
      parentPort.postMessage({ id, ids: tokenizer.encode(text) });
    } catch (e) {
      parentPort.postMessage({ id, error: String(e && e.message || e) });
    }
  });
  parentPort.postMessage({ ready: true });
}, (e) => parentPort.postMessage({ fatal: String(e && e.message || e) }));
`;

export interface WorkerEncoderOptions {
  /** The tokenizer.json text of the model (what its file embeds). */
  tokenizerJson: string;
  /** URL of the library module that exports loadTokenizer (dist/index.js). */
  library: string;
  /** Longest one prompt may take to encode, in milliseconds. */
  budgetMs: number;
}

interface Job {
  id: number;
  text: string;
  signal: AbortSignal;
  resolve(ids: number[]): void;
  reject(e: unknown): void;
}

export class WorkerEncoder {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: WorkerEncoderOptions) {}

  /** The PromptEncoder of the app. */
  readonly encode: PromptEncoder = (text, signal) =>
    new Promise<number[]>((resolve, reject) => {
      if (this.closed) return reject(new ApiError(503, 'the server is stopping', null, 'server_error', 'stopping'));
      if (signal.aborted) return reject(signal.reason);
      const job: Job = { id: this.nextId++, text, signal, resolve, reject };
      signal.addEventListener('abort', () => {
        const i = this.queue.indexOf(job);
        if (i >= 0) this.queue.splice(i, 1);
        // one being encoded runs on (its budget bounds it) and its ids are dropped: ending the worker here
        // would let a client that connects and leaves make the server reload the tokenizer again and again
        reject(signal.reason);
      }, { once: true });
      this.queue.push(job);
      void this.next();
    });

  private start(): Promise<void> {
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: { tokenizerJson: this.options.tokenizerJson, library: this.options.library } });
    worker.unref();
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { ready?: true; fatal?: string; id?: number; ids?: number[]; error?: string }) => {
        if (m.ready) return resolve();
        if (m.fatal) return reject(new Error(`the tokenizer worker could not start: ${m.fatal}`));
        const job = this.current;
        if (!job || job.id !== m.id) return;
        this.finish();
        if (m.error !== undefined) job.reject(new ApiError(400, m.error, 'prompt'));
        else job.resolve(m.ids!);
        void this.next();
      });
      worker.on('error', (e) => reject(e));
    });
    this.ready.catch(() => {});
    return this.ready;
  }

  private finish(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.current = null;
  }

  /** End the worker (a job ran past its budget or was abandoned); the next job starts a new one. */
  private restart(): void {
    this.finish();
    void this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    void this.next();
  }

  private async next(): Promise<void> {
    if (this.current || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    try {
      await (this.ready ?? this.start());
    } catch (e) {
      this.finish();
      this.worker = null;
      this.ready = null;
      job.reject(e);
      void this.next();
      return;
    }
    if (this.current !== job) return;
    this.timer = setTimeout(() => {
      const budget = this.options.budgetMs / 1000;
      this.restart();
      job.reject(new ApiError(400, `the prompt took more than ${budget} s to tokenize (the tokenizer may be hostile to this text); it was not run`, 'prompt', 'invalid_request_error', 'tokenize_timeout'));
    }, this.options.budgetMs);
    this.worker!.postMessage({ id: job.id, text: job.text });
  }

  /** End the worker and refuse what waits. */
  async close(): Promise<void> {
    this.closed = true;
    const stopping = new ApiError(503, 'the server is stopping', null, 'server_error', 'stopping');
    for (const job of this.queue.splice(0)) job.reject(stopping);
    this.current?.reject(stopping);
    this.finish();
    await this.worker?.terminate();
    this.worker = null;
  }
}
