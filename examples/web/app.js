// The demo page: sends prompts to the model's Web Worker (worker.js) and shows the stream as it comes.
import { GENERATION_DEFAULTS } from '../../dist/index.js';

const $ = (id) => document.getElementById(id);

// The controls start at the library's defaults (the CLI's too).
for (const [id, key] of [['max-tokens', 'maxTokens'], ['temperature', 'temperature'], ['top-k', 'topK'], ['top-p', 'topP'], ['repetition-penalty', 'repetitionPenalty']]) {
  $(id).value = GENERATION_DEFAULTS[key];
}
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

// The built-in model, unless the address names another: index.html?model=URL
const modelUrl = new URL(new URLSearchParams(location.search).get('model') ?? '../../models/default.bimamba', location.href);

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function showMemory({ wasmBytes, jsHeapBytes }) {
  $('memory').textContent = jsHeapBytes === null ? `${mb(wasmBytes)} WASM` : `${mb(wasmBytes)} WASM + ${mb(jsHeapBytes)} JS`;
}

function setBusy(busy) {
  $('generate').disabled = busy;
  $('stop').disabled = !busy;
  document.body.dataset.state = busy ? 'generating' : 'ready';
}

function load(message) {
  $('generate').disabled = true;
  document.body.dataset.state = 'loading';
  worker.postMessage(message);
}

/** The sampling options from the controls; an empty seed draws a random one. */
function options() {
  const number = (id) => Number($(id).value);
  const seed = $('seed').value.trim();
  return {
    maxTokens: number('max-tokens'),
    temperature: number('temperature'),
    topK: number('top-k'),
    topP: number('top-p'),
    repetitionPenalty: number('repetition-penalty'),
    ...(seed === '' ? {} : { seed: Number(seed) }),
  };
}

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case 'status':
      $('model-status').textContent = data.text;
      break;
    case 'progress':
      $('load-progress').hidden = false;
      $('load-progress').value = data.loaded / data.total;
      break;
    case 'loaded':
      $('load-progress').hidden = true;
      $('model-status').textContent = `${data.name}: ${data.summary}; ${data.source === 'cache' ? 'loaded from cache' : 'loaded'} in ${Math.round(data.ms)} ms, ${data.threads} thread${data.threads > 1 ? 's' : ''}`;
      $('model-status').dataset.source = data.source;
      showMemory(data.memory);
      setBusy(false);
      if (!data.hasTokenizer) {
        // text cannot become token ids: say what to do instead of failing at Generate
        $('model-status').textContent += ` — this file holds no tokenizer, so it cannot read a prompt here. Convert it again with its tokenizer (bimamba convert CHECKPOINT OUT --tokenizer tokenizer.json), or run it on token ids: bimamba generate -m ${data.name} --ids 1,2,3`;
        $('generate').disabled = true;
        document.body.dataset.state = 'no-tokenizer';
      }
      break;
    case 'token':
      $('output-text').textContent += data.text;
      $('token-count').textContent = data.count;
      $('tokens-per-second').textContent = (data.count / (data.ms / 1000)).toFixed(1);
      showMemory(data.memory);
      break;
    case 'done':
      $('token-count').textContent = data.count;
      if (data.count) $('tokens-per-second').textContent = (data.count / (data.ms / 1000)).toFixed(1);
      showMemory(data.memory);
      setBusy(false);
      break;
    case 'error':
      $('load-progress').hidden = true;
      $('model-status').textContent = `error: ${data.message}`;
      document.body.dataset.state = 'error';
      $('generate').disabled = false;
      $('stop').disabled = true;
      break;
  }
};
worker.onerror = (e) => {
  $('model-status').textContent = `the worker failed: ${e.message}`;
  document.body.dataset.state = 'error';
};

$('form').onsubmit = (e) => {
  e.preventDefault();
  $('output-prompt').textContent = $('prompt').value;
  $('output-text').textContent = '';
  $('token-count').textContent = '0';
  $('tokens-per-second').textContent = '–';
  setBusy(true);
  worker.postMessage({ type: 'generate', prompt: $('prompt').value, options: options() });
};
$('stop').onclick = () => worker.postMessage({ type: 'stop' });
$('prompt').onkeydown = (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !$('generate').disabled) $('form').requestSubmit();
};

// Another model: from the file picker, or dropped on the page.
$('model-file').onchange = () => {
  const file = $('model-file').files[0];
  if (file) load({ type: 'load', file });
};
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) document.body.classList.remove('dragging');
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const file = [...e.dataTransfer.files].find((f) => f.name.endsWith('.bimamba'));
  if (file) load({ type: 'load', file });
  else $('model-status').textContent = 'drop a .bimamba file';
});

load({ type: 'load', url: modelUrl.href });
