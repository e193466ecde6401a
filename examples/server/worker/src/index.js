// The OpenAI-compatible server as a Cloudflare Worker: POST /v1/completions, GET /v1/models, GET /health.
// Named sessions are parked in Durable Objects (src/session-object.js), so any isolate continues them.
import { loadModel } from 'bimamba';
import { createApp } from 'bimamba/server';
import wasm from 'bimamba/bimamba.wasm'; // a precompiled WebAssembly.Module: Workers compile nothing at run time
import modelBytes from './model.bimamba'; // an ArrayBuffer (a Data module, see wrangler.toml)
import { DurableObjectStore } from './session-object.js';

export { SessionObject } from './session-object.js'; // the Durable Object class wrangler.toml binds as SESSIONS

let app; // loaded once per isolate, shared by the requests it serves

export default {
  async fetch(request, env) {
    app ??= loadModel(modelBytes, { wasm }).then((model) =>
      createApp({ model, modelName: 'default', maxActive: 2, store: new DurableObjectStore(env.SESSIONS, { ttlSeconds: Number(env.SESSION_TTL_SECONDS ?? 86_400) }) }));
    // Cloudflare sets CF-Connecting-IP to the client's address (a client cannot set it): the per-client caps' key
    return (await app).fetch(request, { clientAddress: request.headers.get('cf-connecting-ip') });
  },
};
