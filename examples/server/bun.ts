// The OpenAI-compatible server in Bun:  bun bun.ts MODEL.bimamba [PORT]
import { loadModel } from 'bimamba';
import { createApp } from 'bimamba/server';

const [modelPath, port = '8080'] = process.argv.slice(2);
const model = await loadModel(modelPath);
const app = createApp({ model, modelName: 'default' });
// idleTimeout 0: a long generation is one request that must not be cut off after Bun's default 10 s
// and the client's address, for the per-client caps (docs/server.md)
const server = Bun.serve({
  hostname: '127.0.0.1', port: Number(port), idleTimeout: 0,
  fetch: (request, server) => app.fetch(request, { clientAddress: server.requestIP(request)?.address }),
});
console.log(`listening on http://127.0.0.1:${server.port}/v1`);
