// One model for every tab: this SharedWorker loads it once (from the browser's cache after the first
// visit) and runs each tab's generations on it, streaming every tab its own tokens.
// Messages in (from a tab's port): { type: 'generate', id, prompt, options }
// Messages out: { type: 'ready', worker, loads, source } | { type: 'token', id, text, token } | { type: 'done', id } | { type: 'error', id, message }
import { loadModel } from '../../dist/index.js';

const worker = Math.random().toString(36).slice(2); // which worker a tab talks to (the same one for every tab)
let loads = 0; // how many times this worker loaded the model: once, whatever the number of tabs
let loading = null; // the one load, shared by every tab that connects while it runs

function model(url) {
  loading ??= (async () => {
    loads++;
    let source = 'network';
    const m = await loadModel(url, { cache: true, onProgress: (p) => (source = p.source ?? source) });
    return { model: m, source };
  })();
  return loading;
}

async function generate(port, { id, prompt, options }, loaded) {
  try {
    for await (const { text, token } of loaded.model.generate(prompt, options)) port.postMessage({ type: 'token', id, text, token });
    port.postMessage({ type: 'done', id });
  } catch (e) {
    port.postMessage({ type: 'error', id, message: e.code ? `${e.code}: ${e.message}` : String(e.message ?? e) });
  }
}

onconnect = async ({ ports: [port] }) => {
  // the worker's name is the model's URL (see tab.js): tabs asking for another model get another worker
  const url = new URL(self.name, location.href);
  let loaded;
  try {
    loaded = await model(url);
  } catch (e) {
    port.postMessage({ type: 'error', id: null, message: e.code ? `${e.code}: ${e.message}` : String(e.message ?? e) });
    return;
  }
  port.onmessage = ({ data }) => {
    if (data.type === 'generate') generate(port, data, loaded);
  };
  port.postMessage({ type: 'ready', worker, loads, source: loaded.source });
};
