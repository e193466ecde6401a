// The OpenAI-compatible server in Deno:  deno run --allow-read --allow-net deno.ts MODEL.bimamba [PORT]
import { loadModel } from 'bimamba';
import { createApp } from 'bimamba/server';

const [modelPath, port = '8080'] = Deno.args;
const model = await loadModel(modelPath);
const app = createApp({ model, modelName: 'default' });
Deno.serve({ hostname: '127.0.0.1', port: Number(port), onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/v1`) },
  // the client's address, for the per-client caps (docs/server.md)
  (request, info) => app.fetch(request, { clientAddress: info.remoteAddr.hostname }));
