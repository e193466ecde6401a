// Ours in a Web Worker of the benchmark page: load the .bimamba file, then per run a fresh session fed
// the prompt (prefill), greedy decode with feed() + argmax, and the same decode through model.generate(),
// greedy and sampled.
import { loadModel } from '/dist/index.js';

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

let calls = 0; // greedy first on even calls, sampled first on odd ones: neither gets the first (or the warmer) slot every round

onmessage = async ({ data: { url, threads, prompt, decodeTokens, runs, sampled } }) => {
  try {
    const t0 = performance.now();
    const model = await loadModel(new URL(url, location.href), { threads });
    const load_s = (performance.now() - t0) / 1000;
    const once = async (ids, n) => {
      const s = model.createSession();
      let t = performance.now();
      let logits = s.feed(ids);
      const p = (performance.now() - t) / 1000;
      t = performance.now();
      for (let i = 0; i < n; i++) logits = s.feed([argmax(logits)]);
      const d = (performance.now() - t) / 1000;
      const g = {};
      const order = calls++ % 2 === 0 ? ['greedy', 'sampled'] : ['sampled', 'greedy'];
      for (const mode of order) {
        s.reset();
        s.feed(ids);
        t = performance.now();
        const options = mode === 'greedy' ? { temperature: 0 } : sampled;
        for await (const _ of model.generate([], { ...options, session: s, maxTokens: n, stopAtEos: false, seed: 1 }));
        g[mode] = (performance.now() - t) / 1000;
      }
      s.dispose();
      return [p, d, g.greedy, g.sampled];
    };
    await once(prompt.slice(0, 16), 4); // warm-up
    const r = { prefill_runs: [], decode_runs: [], generate_greedy_runs: [], generate_sampled_runs: [] };
    for (let i = 0; i < runs; i++) {
      const [p, d, gg, gs] = await once(prompt, decodeTokens);
      r.prefill_runs.push(prompt.length / p);
      r.decode_runs.push(decodeTokens / d);
      r.generate_greedy_runs.push(decodeTokens / gg);
      r.generate_sampled_runs.push(decodeTokens / gs);
    }
    postMessage({ ...r, load_s, threads: model.threads, wasm_memory_mb: model.memoryBytes / 2 ** 20 });
    model.dispose();
  } catch (e) {
    postMessage({ error: String(e?.stack ?? e) });
  }
};
