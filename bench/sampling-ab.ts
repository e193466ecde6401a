// Sampled against greedy model.generate(), side by side in one process, for a ratio this shared machine's
// drift does not blur: `npx tsx bench/sampling-ab.ts [--browser] [--threads 1] [--rounds 12] [--block 32] [--aa]`.
// On the built package (dist/: `npx rollup -c rollup.config.js` after a change in src/) and the synthetic
// 780M (written into .cache/bench/ on first use). Blocks of `--block` tokens, greedy and sampled
// (bench/common.ts SAMPLED) in turn from one fed session (bench/sampling-ab-core.mjs); in Node, or with
// --browser in a Web Worker of headless Chromium, on a page served with the cross-origin isolation headers.
// Prints, per mode, the median tok/s and where a token's time goes (forward pass, sampling step, the rest:
// yields and the generator), the ratio, and a hash of the sampled tokens (fixed seeds), then one JSON line.
// --aa: greedy against greedy ("sampled" is temperature 0 too): the spread of the ratio where there is no difference.
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SAMPLED } from './common.js';
import { ensureSyntheticModel, MODELS } from '../tests/util/synthetic-model.js';
import { benchPrompt } from './peers/prompt.mjs';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback; };
const browser = args.includes('--browser');
const aa = args.includes('--aa');
const threads = option('--threads', 1);
const options = { prompt: benchPrompt(option('--prompt', 64), 32000), rounds: option('--rounds', 12), block: option('--block', 32), sampled: aa ? { temperature: 0 } : SAMPLED };
const root = fileURLToPath(new URL('..', import.meta.url));
const file = `${root}.cache/bench/bimamba-780m.bimamba`;
await ensureSyntheticModel(MODELS['bimamba-780m'], file, (m) => console.log(`  ${m}`));

export interface Summary { tok_s: number; ms_per_token: number; forward_ms: number; step_ms: number; copy_ms: number; rest_ms: number; runs: number[] }
export interface Result { threads: number; rounds: number; block: number; greedy: Summary; sampled: Summary; ratio: number; ratio_of_pairs: number; ratio_of_parts: number; sampled_tokens_hash: string }

async function inNode(): Promise<Result> {
  const { loadModel } = await import('../dist/index.js');
  const { samplingAB } = await import('./sampling-ab-core.mjs');
  const model = await loadModel(file, { threads });
  try {
    return await samplingAB(model, options);
  } finally {
    model.dispose();
  }
}

async function inChromium(): Promise<Result> {
  const { chromium } = await import('playwright-core');
  // @ts-expect-error: a plain ES module without types
  const { serve } = await import('../examples/web/serve.mjs');
  const server: Server = await serve(root, 0);
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const app = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await app.newPage();
    page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
    await page.goto(`${origin}/bench/sampling-ab.html`);
    await page.waitForFunction('window.ready === true');
    const url = `/${file.slice(root.length)}`;
    return (await page.evaluate(`window.runAB(${JSON.stringify({ url, threads, ...options })})`)) as Result;
  } finally {
    await app.close();
    await new Promise((r) => server.close(r));
  }
}

const r = browser ? await inChromium() : await inNode();
const f = (x: number, d = 2) => x.toFixed(d).padStart(9);
console.log(`${browser ? 'Chromium, Web Worker' : `Node ${process.versions.node}`}, ${r.threads} thread(s): ${r.rounds} rounds of ${r.block} tokens a mode${aa ? ' (A/A: both greedy)' : ''}`);
console.log(`${'mode'.padEnd(9)}${'tok/s'.padStart(9)}${'ms/token'.padStart(9)}${'forward'.padStart(9)}${'sampling'.padStart(9)}${'(copy)'.padStart(9)}${'rest'.padStart(9)}`);
for (const mode of ['greedy', 'sampled'] as const) {
  const s = r[mode];
  console.log(`${mode.padEnd(9)}${f(s.tok_s, 1)}${f(s.ms_per_token)}${f(s.forward_ms)}${f(s.step_ms, 3)}${f(s.copy_ms, 3)}${f(s.rest_ms, 3)}`);
}
console.log(`sampled / greedy: ${r.ratio.toFixed(3)} (medians), ${r.ratio_of_pairs.toFixed(3)} (median of the rounds' pairs), ${r.ratio_of_parts.toFixed(3)} (of the parts: one forward time for both); sampled tokens hash ${r.sampled_tokens_hash}`);
console.log(JSON.stringify({ host: browser ? 'chromium' : `node ${process.versions.node}`, aa, ...r }));
