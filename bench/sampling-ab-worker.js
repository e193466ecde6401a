// bench/sampling-ab.ts --browser: the A/B (sampling-ab-core.mjs) in a Web Worker of a cross-origin isolated
// page, on the built package for browsers, as a page's worker runs it.
import { loadModel } from '/dist/browser.js';
import { samplingAB } from './sampling-ab-core.mjs';

onmessage = async ({ data: { url, threads, ...options } }) => {
  try {
    const model = await loadModel(new URL(url, location.href), { threads });
    const result = await samplingAB(model, options);
    model.dispose();
    postMessage(result);
  } catch (e) {
    postMessage({ error: String(e?.stack ?? e) });
  }
};
