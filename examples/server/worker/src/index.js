// The OpenAI-compatible server as a Cloudflare Worker: POST /v1/completions, GET /v1/models, GET /health.
// Sessions are parked in the isolate's memory (each isolate has its own; use a shared store across them).
import { loadModel } from 'bimamba';
import { createApp } from 'bimamba/server';
import wasm from 'bimamba/bimamba.wasm'; // a precompiled WebAssembly.Module: Workers compile nothing at run time
import modelBytes from './model.bimamba'; // an ArrayBuffer (a Data module, see wrangler.toml)

let app; // loaded once per isolate, shared by the requests it serves

export default {
  async fetch(request) {
    app ??= loadModel(modelBytes, { wasm }).then((model) => createApp({ model, modelName: 'default', maxActive: 2 }));
    return (await app).fetch(request);
  },
};
