// In the benchmark page: ours in a Web Worker (bench/peers/browser-worker.js), wllama as its README uses
// it (it runs llama.cpp in a worker of its own). Each returns { prefill_tok_s, decode_tok_s, ... }.
import { workerOnce } from '../worker-once.js';

const WLLAMA = '/.cache/peers/node_modules/@wllama/wllama/esm';

window.runBimamba = (options) => workerOnce(new URL('./browser-worker.js', import.meta.url), options);

window.runWllama = async ({ url, threads, promptTokens, decodeTokens, runs }) => {
  const { Wllama } = await import(`${WLLAMA}/index.js`);
  const wllama = new Wllama({ default: `${WLLAMA}/wasm/wllama.wasm` }, { logger: { debug() {}, log() {}, info() {}, warn() {}, error: console.error } });
  // wllama downloads into the origin's storage even with useCache: false; left there, a few runs of the
  // larger files pass the quota (QuotaExceededError): clear it before and after every run
  await wllama.cacheManager.clear();
  try {
    return await wllamaOnce(wllama, { url, threads, promptTokens, decodeTokens, runs });
  } finally {
    await wllama.cacheManager.clear();
  }
};

async function wllamaOnce(wllama, { url, threads, promptTokens, decodeTokens, runs }) {
  const t0 = performance.now();
  await wllama.loadModelFromUrl(url, { n_threads: threads, n_ctx: promptTokens + decodeTokens + 64, n_batch: promptTokens, useCache: false });
  const load_s = (performance.now() - t0) / 1000;
  // a prompt of single-byte tokens (the synthetic vocabulary has no merges): one token per character
  const prompt = 'x'.repeat(promptTokens - 2);
  const prefill = [], decode = [], promptN = [], predictedN = [];
  for (let r = 0; r <= runs; r++) {
    const out = await wllama.createCompletion({ prompt, max_tokens: decodeTokens, temperature: 0, ignore_eos: true, cache_prompt: false });
    if (r === 0) continue; // warm-up
    prefill.push(out.timings.prompt_per_second);
    decode.push(out.timings.predicted_per_second);
    promptN.push(out.timings.prompt_n);
    predictedN.push(out.timings.predicted_n);
  }
  const threadsUsed = wllama.getNumThreads();
  await wllama.exit();
  return { load_s, prefill_runs: prefill, decode_runs: decode, prompt_tokens: promptN[0], decode_tokens: predictedN[0], threads: threadsUsed };
}
window.ready = true;
