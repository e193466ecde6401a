// The model runs in this Web Worker, so the page stays responsive while tokens are computed.
// Messages in:  { type: 'load', url } | { type: 'load', file } | { type: 'generate', prompt, options } | { type: 'stop' }
// Messages out: 'status', 'progress', 'loaded', 'token', 'done', 'error' (see app.js).
import { loadModel } from '../../dist/index.js';

let model = null;
let stopper = null; // the AbortController of the generation in progress

const send = (type, data = {}) => postMessage({ type, ...data });

/** The model's WASM memory and, where the browser tells (Chromium), this worker's JS heap. */
function memory() {
  return { wasmBytes: model?.memoryBytes ?? 0, jsHeapBytes: performance.memory?.usedJSHeapSize ?? null };
}

async function load({ url, file }) {
  stopper?.abort();
  model?.dispose();
  model = null;
  const name = file ? file.name : decodeURIComponent(new URL(url).pathname.split('/').pop());
  send('status', { text: `loading ${name}…` });
  const started = performance.now();
  // a dropped File is read as a stream, straight into WASM memory; progress goes to the page's bar
  // a URL is kept in the browser's storage (OPFS, else the Cache API): a second visit reads it from there
  let shown = -1;
  let source = 'file';
  const onProgress = ({ loaded, total, source: from }) => {
    source = from ?? source;
    const percent = Math.floor((100 * loaded) / total);
    if (percent !== shown) send('progress', { loaded, total, source });
    shown = percent;
  };
  model = await loadModel(file ?? new URL(url), { onProgress, cache: !file });
  const c = model.config;
  send('loaded', {
    name,
    ms: performance.now() - started,
    source,
    summary: `${c.arch}${c.binarized ? ', 1-bit' : ''}, ${c.n_layer} layers, d_model ${c.d_model}, vocab ${c.vocab_size}`,
    threads: model.threads,
    hasTokenizer: model.tokenizer !== null,
    memory: memory(),
  });
}

async function generate({ prompt, options }) {
  if (!model) throw new Error('no model is loaded');
  stopper = new AbortController();
  const started = performance.now();
  let count = 0;
  try {
    for await (const { text } of model.generate(prompt, { ...options, signal: stopper.signal })) {
      count++;
      send('token', { text, count, ms: performance.now() - started, memory: memory() });
    }
    send('done', { count, ms: performance.now() - started, stopped: false, memory: memory() });
  } catch (e) {
    if (e.code !== 'ABORTED') throw e;
    send('done', { count, ms: performance.now() - started, stopped: true, memory: memory() });
  } finally {
    stopper = null;
  }
}

onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') await load(data);
    else if (data.type === 'generate') await generate(data);
    else if (data.type === 'stop') stopper?.abort();
  } catch (e) {
    send('error', { message: e.code ? `${e.code}: ${e.message}` : String(e.message ?? e) });
  }
};
