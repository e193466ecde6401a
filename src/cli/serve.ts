// `bimamba serve [--model FILE] [--port N] [--host H] [--sessions DIR | --redis URL]`: the OpenAI-compatible
// HTTP server (src/server/app.ts) on Node's HTTP server, until SIGINT or SIGTERM. Prompts are encoded in
// a worker thread with a time budget (src/server/encoder-node.ts), so the process answers (and stops on
// SIGTERM) whatever a tokenizer does with a prompt.
import { InvalidArgumentError, type Command } from 'commander';
import { stat } from 'node:fs/promises';
import { BimambaError, printable } from '../errors.js';
import { ChatTemplate } from '../chat/template.js';
import { readBimambaFileHeader } from '../format/bimamba.js';
import { createApp } from '../server/app.js';
import { DirectoryStore } from '../server/directory-store.js';
import { WorkerEncoder } from '../server/encoder-node.js';
import { listen } from '../server/node.js';
import { RedisStore } from '../server/redis-store.js';
import { DEFAULT_TTL_SECONDS, MemoryStore, type SnapshotStore } from '../server/store.js';
import { addModelOptions, loadModelFromFlags, modelPath } from './model-options.js';
import { collect, integerAtLeast, integerIn, parseNumber, UsageError } from './options.js';
import { toStderr, toStdout } from './terminal.js';

/** A positive number of seconds. */
const secondsFlag = (v: string): number => {
  const n = parseNumber(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${n} is not a positive number of seconds`);
  return n;
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health)');
  addModelOptions(cmd)
    .option('-p, --port <n>', 'TCP port (0: any free port)', integerIn(0, 65535), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--name <id>', 'the model id clients name', 'default')
    .option('--sessions <dir>', 'park idle sessions as files in this directory (default: in memory)')
    .option('--redis <url>', 'park idle sessions in Redis (redis://host:port), shared by several servers')
    .option('--session-memory <MiB>', 'memory for parked sessions when they stay in memory', integerAtLeast(1), 512)
    .option('--max-active <n>', 'completions generating at once', integerAtLeast(1), 4)
    .option('--max-waiting <n>', 'requests waiting for a turn before 503 (0: none wait)', integerAtLeast(0), 16)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" (repeat for several keys; or BIMAMBA_API_KEY)', collect, [])
    .option('--host-allow <name>', "a Host name clients may use besides IP literals and localhost (repeatable; '*': any)", collect, [])
    .option('--cors <origin>', "let pages of this origin call the API (repeatable; '*': any page)", collect, [])
    .option('--request-timeout <s>', 'wall-clock cap of a request, its stream included, in seconds', secondsFlag, 600)
    .option('--write-timeout <s>', 'end a stream whose client takes no data for this many seconds', secondsFlag, 10)
    .option('--tokenize-timeout <s>', 'longest a prompt may take to tokenize, in seconds', secondsFlag, 5)
    .option('--session-ttl <s>', 'forget a parked session this many seconds after its last request', integerAtLeast(1), DEFAULT_TTL_SECONDS)
    .option('--sessions-max-mib <MiB>', 'most MiB of snapshots in the --sessions directory', integerAtLeast(1), 1024)
    .option('--sessions-max-files <n>', 'most snapshots in the --sessions directory', integerAtLeast(1), 10_000)
    .option('--max-sessions-per-client <n>', "parked sessions per API key (per client address without keys); past it its oldest goes", integerAtLeast(1), 64)
    .option('--max-active-per-client <n>', 'completions one client address runs at once (default: half of --max-active)', integerAtLeast(1))
    .option('--max-waiting-per-client <n>', 'requests one client address has waiting (default: a quarter of --max-waiting)', integerAtLeast(0))
    .option('--max-connections-per-client <n>', 'open connections per client address', integerAtLeast(1), 32)
    .option('--prompt-cache <MiB>', 'MiB for the prompt cache (0: off): in memory, or with --sessions in that directory, with --redis in Redis (entries kept an hour); past it each server deletes the oldest entries it saved', integerAtLeast(0), 256)
    .option('--chat-template <file>', "a Jinja chat template for /v1/chat/completions instead of the model file's")
    .action(async (o) => {
      if (o.redis && o.sessions) throw new UsageError('--redis and --sessions both say where sessions are parked: give one of them');
      const apiKeys: string[] = [...o.apiKey, ...(process.env.BIMAMBA_API_KEY ? [process.env.BIMAMBA_API_KEY] : [])];
      if (apiKeys.some((k) => k.length < 8 || /\s/.test(k))) throw new UsageError('an API key must be at least 8 characters, without spaces');
      // the store first: a wrong --sessions or an unreachable --redis fails before the model loads
      const chatTemplate = o.chatTemplate === undefined ? undefined : await readChatTemplate(o.chatTemplate);
      const { store, closeStore, sharedCache } = await openStore(o);
      let model;
      let encoder: WorkerEncoder | null = null;
      try {
        const path = await modelPath(o);
        model = await loadModelFromFlags(o);
        // the file's own tokenizer is encoded in a worker with a time budget (a --tokenizer file is the operator's own)
        if (model.tokenizer && o.tokenizer === undefined) {
          const { header } = await readBimambaFileHeader(path);
          if (header.tokenizerJson) encoder = new WorkerEncoder({ tokenizerJson: header.tokenizerJson, library: new URL('./index.js', import.meta.url).href, budgetMs: o.tokenizeTimeout * 1000 });
        }
      } catch (e) {
        await closeStore();
        throw e;
      }
      const modelName: string = o.name;
      const hostAllow: string[] = o.hostAllow;
      const promptCache = o.promptCache === 0 ? null : (sharedCache ?? new MemoryStore(o.promptCache * 1024 * 1024));
      let app;
      try {
        app = createApp({
          model, modelName, store, maxActive: o.maxActive, maxWaiting: o.maxWaiting,
          maxActivePerClient: o.maxActivePerClient, maxWaitingPerClient: o.maxWaitingPerClient, maxSessionsPerOwner: o.maxSessionsPerClient,
          apiKeys, allowedHosts: hostAllow.includes('*') ? '*' : hostAllow.map((h) => h.toLowerCase()), corsOrigins: o.cors,
          requestTimeout: o.requestTimeout, writeTimeout: o.writeTimeout,
          ...(encoder ? { encodePrompt: encoder.encode } : {}),
          promptCache, promptCacheBytes: Math.max(1, o.promptCache) * 1024 * 1024, chatTemplate,
        });
      } catch (e) {
        await closeStore();
        model.dispose();
        throw e;
      }
      const server = await listen(app, o.port, o.host, { maxConnectionsPerClient: o.maxConnectionsPerClient }).catch(async (e: NodeJS.ErrnoException) => {
        await closeStore();
        await encoder?.close();
        model.dispose();
        const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EADDRNOTAVAIL' ? 'no such address on this machine' : e.message;
        throw new BimambaError('BAD_ARGUMENT', `cannot listen on ${o.host} port ${o.port}: ${why}`, { cause: e });
      });
      // Ctrl-C exits 130 as every command does; SIGTERM (a service manager's stop) is a clean exit, 0.
      // Open streams may finish (up to --request-timeout); a second signal ends them at once.
      let stopping = false;
      const stop = (code: number) => async () => {
        if (stopping) {
          toStderr('bimamba serve: stopping now\n');
          server.closeAll();
          process.exit(code);
        }
        stopping = true;
        const open = server.connections();
        if (open > 0) toStderr(`bimamba serve: stopping; waiting for ${open} open connection${open === 1 ? '' : 's'} to finish (signal again to stop at once)\n`);
        const drained = server.close();
        const cap = new Promise<void>((r) => setTimeout(r, o.requestTimeout * 1000).unref());
        await Promise.race([drained, cap]);
        server.closeAll();
        await encoder?.close();
        await closeStore();
        model.dispose();
        process.exit(code);
      };
      process.on('SIGINT', stop(130));
      process.on('SIGTERM', stop(0));
      // announced only now: a supervisor that stops the server as soon as it reads this line finds the
      // handlers in place (before them, SIGTERM would kill the process outright)
      const where = o.host.includes(':') ? `[${o.host}]` : o.host;
      toStdout(`bimamba serve: model ${modelName} on http://${where}:${server.port}/v1\n`);
      if (apiKeys.length === 0 && !LOOPBACK.has(o.host)) {
        toStderr('bimamba serve: no --api-key: anyone who reaches this address can use it, and a session name is all it takes to continue a session (for trusted clients only)\n');
      }
    });
}

/** The --chat-template file, parsed before the model loads (a broken one fails at once, naming the file). */
async function readChatTemplate(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `cannot read the chat template ${file}: ${(e as Error).message}`, { cause: e });
  }
  new ChatTemplate(source, file);
  return source;
}

/** Where idle sessions are parked: Redis, a directory, or memory (the default). */
interface StoreFlags {
  redis?: string;
  sessions?: string;
  sessionMemory: number;
  sessionTtl: number;
  sessionsMaxMib: number;
  sessionsMaxFiles: number;
}

async function openStore(o: StoreFlags): Promise<{ store: SnapshotStore; closeStore: () => Promise<void>; sharedCache?: SnapshotStore }> {
  if (o.redis) {
    const { createClient } = await import('redis');
    let connected = false;
    let client;
    try {
      // a few quick retries at start-up, then a clear error instead of reconnecting forever
      client = createClient({ url: o.redis, socket: { connectTimeout: 5000, reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : retries >= 2 ? cause : 200) } });
      client.on('error', (e: Error) => connected && toStderr(`redis: ${printable(e.message)}\n`));
      await client.connect();
      connected = true;
    } catch (e) {
      await client?.destroy?.();
      throw new BimambaError('BAD_ARGUMENT', `cannot connect to Redis at ${o.redis}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    const c = client;
    // the prompt cache beside the sessions, under its own prefix, each entry forgotten an hour after it was written
    const sharedCache = new RedisStore(c, { prefix: 'bimamba:prompt-cache:', ttlSeconds: 3600 });
    return { store: new RedisStore(c, { ttlSeconds: o.sessionTtl }), closeStore: async () => void (await c.quit()), sharedCache };
  }
  if (o.sessions) {
    const s = await stat(o.sessions).catch(() => null); // a missing directory is made on first use
    if (s && !s.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `--sessions ${o.sessions} is not a directory`);
    const store = new DirectoryStore(o.sessions, { ttlSeconds: o.sessionTtl, maxBytes: o.sessionsMaxMib * 1024 * 1024, maxFiles: o.sessionsMaxFiles });
    return { store, closeStore: async () => {}, sharedCache: store };
  }
  return { store: new MemoryStore(o.sessionMemory * 1024 * 1024, { ttlSeconds: o.sessionTtl }), closeStore: async () => {} };
}
