// `bimamba serve [--model FILE] [--port N] [--host H] [--sessions DIR | --redis URL]`: the OpenAI-compatible
// HTTP server (src/server/app.ts) on Node's HTTP server, until SIGINT or SIGTERM.
import type { Command } from 'commander';
import { basename } from 'node:path';
import { createApp } from '../server/app.js';
import { DirectoryStore } from '../server/directory-store.js';
import { listen } from '../server/node.js';
import { RedisStore } from '../server/redis-store.js';
import { MemoryStore, type SnapshotStore } from '../server/store.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { integerAtLeast, integerIn } from './options.js';

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/models, /health)');
  addModelOptions(cmd)
    .option('-p, --port <n>', 'TCP port (0: any free port)', integerIn(0, 65535), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--name <id>', 'the model id clients name (default: the file name without .bimamba)')
    .option('--sessions <dir>', 'park idle sessions as files in this directory (default: in memory)')
    .option('--redis <url>', 'park idle sessions in Redis (redis://host:port), shared by several servers')
    .option('--session-memory <MiB>', 'memory for parked sessions when they stay in memory', integerAtLeast(1), 512)
    .option('--max-active <n>', 'completions generating at once', integerAtLeast(1), 4)
    .option('--max-waiting <n>', 'requests waiting for a turn before 503', integerAtLeast(1), 16)
    .action(async (o) => {
      const model = await loadModelFromFlags(o);
      const modelName: string = o.name ?? (o.model ? basename(o.model).replace(/\.bimamba$/, '') : 'default');
      let store: SnapshotStore;
      let closeStore = async () => {};
      if (o.redis) {
        const { createClient } = await import('redis');
        const client = createClient({ url: o.redis });
        client.on('error', (e: Error) => process.stderr.write(`redis: ${e.message}\n`));
        await client.connect();
        store = new RedisStore(client);
        closeStore = async () => void (await client.quit());
      } else if (o.sessions) {
        store = new DirectoryStore(o.sessions);
      } else {
        store = new MemoryStore(o.sessionMemory * 1024 * 1024);
      }
      const app = createApp({ model, modelName, store, maxActive: o.maxActive, maxWaiting: o.maxWaiting });
      const server = await listen(app, o.port, o.host);
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
