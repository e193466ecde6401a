// `bimamba serve [--model FILE] [--port N] [--host H] [--sessions DIR | --redis URL]`: the OpenAI-compatible
// HTTP server (src/server/app.ts) on Node's HTTP server, until SIGINT or SIGTERM.
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { BimambaError, printable } from '../errors.js';
import { ChatTemplate } from '../chat/template.js';
import { createApp } from '../server/app.js';
import { DirectoryStore } from '../server/directory-store.js';
import { listen } from '../server/node.js';
import { RedisStore } from '../server/redis-store.js';
import { MemoryStore, type SnapshotStore } from '../server/store.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { integerAtLeast, integerIn } from './options.js';

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health)');
  addModelOptions(cmd)
    .option('-p, --port <n>', 'TCP port (0: any free port)', integerIn(0, 65535), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--name <id>', 'the model id clients name (default: the file name without .bimamba)')
    .option('--sessions <dir>', 'park idle sessions as files in this directory (default: in memory)')
    .option('--redis <url>', 'park idle sessions in Redis (redis://host:port), shared by several servers')
    .option('--session-memory <MiB>', 'memory for parked sessions when they stay in memory', integerAtLeast(1), 512)
    .option('--max-active <n>', 'completions generating at once', integerAtLeast(1), 4)
    .option('--max-waiting <n>', 'requests waiting for a turn before 503', integerAtLeast(1), 16)
    .option('--prompt-cache <MiB>', 'memory for the prompt cache (0: off); with --sessions it lives in that directory, with --redis in Redis (entries kept an hour)', integerAtLeast(0), 256)
    .option('--chat-template <file>', "a Jinja chat template for /v1/chat/completions instead of the model file's")
    .action(async (o) => {
      // the store first: a wrong --sessions or an unreachable --redis fails before the model loads
      const chatTemplate = o.chatTemplate === undefined ? undefined : await readChatTemplate(o.chatTemplate);
      const { store, closeStore, sharedCache } = await openStore(o);
      let model;
      try {
        model = await loadModelFromFlags(o);
      } catch (e) {
        await closeStore();
        throw e;
      }
      const modelName: string = o.name ?? (o.model ? basename(o.model).replace(/\.bimamba$/, '') : 'default');
      const promptCache = o.promptCache === 0 ? null : (sharedCache ?? new MemoryStore(o.promptCache * 1024 * 1024));
      let app;
      try {
        app = createApp({ model, modelName, store, maxActive: o.maxActive, maxWaiting: o.maxWaiting, promptCache, chatTemplate });
      } catch (e) {
        await closeStore();
        model.dispose();
        throw e;
      }
      const server = await listen(app, o.port, o.host).catch(async (e: NodeJS.ErrnoException) => {
        await closeStore();
        model.dispose();
        const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EADDRNOTAVAIL' ? 'no such address on this machine' : e.message;
        throw new BimambaError('BAD_ARGUMENT', `cannot listen on ${o.host} port ${o.port}: ${why}`, { cause: e });
      });
      const where = o.host.includes(':') ? `[${o.host}]` : o.host;
      process.stdout.write(`bimamba serve: model ${modelName} on http://${where}:${server.port}/v1\n`);
      // Ctrl-C exits 130 as every command does; SIGTERM (a service manager's stop) is a clean exit, 0
      const stop = (code: number) => async () => {
        await server.close();
        await closeStore();
        model.dispose();
        process.exit(code);
      };
      process.once('SIGINT', stop(130));
      process.once('SIGTERM', stop(0));
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
async function openStore(o: { redis?: string; sessions?: string; sessionMemory: number }): Promise<{ store: SnapshotStore; closeStore: () => Promise<void>; sharedCache?: SnapshotStore }> {
  if (o.redis) {
    const { createClient } = await import('redis');
    let connected = false;
    let client;
    try {
      // a few quick retries at start-up, then a clear error instead of reconnecting forever
      client = createClient({ url: o.redis, socket: { connectTimeout: 5000, reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : retries >= 2 ? cause : 200) } });
      client.on('error', (e: Error) => connected && process.stderr.write(`redis: ${printable(e.message)}\n`));
      await client.connect();
      connected = true;
    } catch (e) {
      await client?.destroy?.();
      throw new BimambaError('BAD_ARGUMENT', `cannot connect to Redis at ${o.redis}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    const c = client;
    // the prompt cache beside the sessions, under its own prefix, each entry forgotten an hour after it was written
    const sharedCache = new RedisStore(c, { prefix: 'bimamba:prompt-cache:', ttlSeconds: 3600 });
    return { store: new RedisStore(c), closeStore: async () => void (await c.quit()), sharedCache };
  }
  if (o.sessions) {
    const s = await stat(o.sessions).catch(() => null); // a missing directory is made on first use
    if (s && !s.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `--sessions ${o.sessions} is not a directory`);
    const store = new DirectoryStore(o.sessions);
    return { store, closeStore: async () => {}, sharedCache: store };
  }
  return { store: new MemoryStore(o.sessionMemory * 1024 * 1024), closeStore: async () => {} };
}
