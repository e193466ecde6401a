// A Cloudflare Worker that streams generated tokens as server-sent events:
//   GET /?prompt=Once+upon+a+time&n=64&t=0.8
import { loadModel } from 'bimamba';
import wasm from 'bimamba/bimamba.wasm'; // a precompiled WebAssembly.Module: Workers compile nothing at run time
import modelBytes from './model.bimamba'; // an ArrayBuffer (a Data module, see wrangler.toml)

let loading; // the model is loaded once per isolate and shared by the requests it serves

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const prompt = url.searchParams.get('prompt') || 'The history of';
    const maxTokens = Number(url.searchParams.get('n') ?? 64);
    const temperature = Number(url.searchParams.get('t') ?? 0.8);
    loading ??= loadModel(modelBytes, { wasm });
    const model = await loading;

    const tokens = model.generate(prompt, { maxTokens, temperature });
    const encoder = new TextEncoder();
    const event = (name, data) => encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    const body = new ReadableStream({
      // one token per pull: the client's reading paces the generation
      async pull(controller) {
        try {
          const { value, done } = await tokens.next();
          if (done) {
            controller.enqueue(event('done', { memoryBytes: model.memoryBytes }));
            controller.close();
          } else {
            controller.enqueue(event('token', value));
          }
        } catch (e) {
          controller.enqueue(event('error', { message: e.message }));
          controller.close();
        }
      },
      cancel() {
        tokens.return();
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  },
};
