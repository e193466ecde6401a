// Chart and table from a benchmark's JSON: `tsx bench/chart.ts RESULTS.json [OUT.svg]`.
// Writes an SVG bar chart of decode tokens/s by model size (1-bit against f32, 1 and 2 threads) and
// prints the Markdown tables the README's Performance section shows.
import { readFileSync, writeFileSync } from 'node:fs';
import type { BenchResults, ModelRun } from './common.js';
import { MODELS } from '../tests/util/synthetic-model.js';

const [input, output = 'bench/decode-tok-s.svg'] = process.argv.slice(2);
if (!input) throw new Error('usage: tsx bench/chart.ts RESULTS.json [OUT.svg]');
const results = JSON.parse(readFileSync(input, 'utf8')) as BenchResults;

interface Bar { label: string; value: number; color: string }
interface Group { label: string; bars: Bar[] }

const COLORS = { onebit1: '#2b6cb0', onebit2: '#90cdf4', f321: '#c05621', f322: '#fbd38d' };
const run = (model: string, threads: number): ModelRun | undefined => results.runs.find((r) => r.model === model && r.threads === threads);

/** One group per model size: 1-bit at 1 and 2 threads, and f32 where the results have it. */
function groups(): Group[] {
  const out: Group[] = [];
  for (const m of Object.values(MODELS).filter((m) => m.binarized)) {
    const bars: Bar[] = [];
    const add = (model: string, threads: number, label: string, color: string) => {
      const r = run(model, threads);
      if (r) bars.push({ label, value: r.decode_tok_s, color });
    };
    add(m.name, 1, '1-bit, 1 thread', COLORS.onebit1);
    add(m.name, 2, '1-bit, 2 threads', COLORS.onebit2);
    const f32 = Object.values(MODELS).find((f) => !f.binarized && f.params === m.params);
    if (f32) {
      add(f32.name, 1, 'f32, 1 thread', COLORS.f321);
      add(f32.name, 2, 'f32, 2 threads', COLORS.f322);
    }
    if (bars.length) out.push({ label: m.params, bars });
  }
  return out;
}

function svg(gs: Group[]): string {
  const W = 640, H = 340, left = 56, right = 16, top = 40, bottom = 70;
  const max = Math.max(...gs.flatMap((g) => g.bars.map((b) => b.value)));
  const step = max > 100 ? 20 : max > 40 ? 10 : 5;
  const yMax = Math.ceil(max / step) * step;
  const plotW = W - left - right, plotH = H - top - bottom;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const groupW = plotW / gs.length, barW = Math.min(34, (groupW - 20) / 4);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">Decode tokens/s by model size (${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node})</text>`,
  ];
  for (let v = 0; v <= yMax; v += step) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#4a5568">${v}</text>`);
  }
  gs.forEach((g, i) => {
    const x0 = left + i * groupW + (groupW - g.bars.length * barW) / 2;
    g.bars.forEach((b, j) => {
      const x = x0 + j * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(b.value).toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${(top + plotH - y(b.value)).toFixed(1)}" fill="${b.color}"><title>${b.label}: ${b.value.toFixed(1)} tok/s</title></rect>`);
      parts.push(`<text x="${(x + (barW - 3) / 2).toFixed(1)}" y="${(y(b.value) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${b.value.toFixed(b.value < 10 ? 1 : 0)}</text>`);
    });
    parts.push(`<text x="${(left + (i + 0.5) * groupW).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" font-weight="600">${g.label}</text>`);
  });
  const legend = [['1-bit, 1 thread', COLORS.onebit1], ['1-bit, 2 threads', COLORS.onebit2], ['f32, 1 thread', COLORS.f321], ['f32, 2 threads', COLORS.f322]];
  legend.forEach(([label, color], i) => {
    const x = left + i * 140;
    parts.push(`<rect x="${x}" y="${H - 30}" width="12" height="12" fill="${color}"/><text x="${x + 16}" y="${H - 20}">${label}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function markdown(): string {
  const m = results.machine;
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gb.toFixed(0)} GB, Node ${m.node} (V8 ${m.v8}), relaxed SIMD ${m.relaxed_simd ? 'on' : 'off'}. ` +
      `Measured: f32 SIMD peak ${m.f32_peak_gflops.toFixed(0)} GFLOP/s (one thread), read bandwidth ${m.read_gb_s_1t.toFixed(1)} GB/s (1 thread) / ${m.read_gb_s_2t.toFixed(1)} GB/s (2 threads).`,
    '',
    '| model | threads | prefill tok/s | decode tok/s | prefill / decode | load s | peak RSS MB | WASM MB | file MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results.runs) {
    lines.push(`| ${r.model} | ${r.threads} | ${r.prefill_tok_s.toFixed(1)} | ${r.decode_tok_s.toFixed(1)} | ${(r.prefill_tok_s / r.decode_tok_s).toFixed(1)}x | ${r.load_s.toFixed(2)} | ${r.peak_rss_mb.toFixed(0)} | ${r.wasm_memory_mb.toFixed(0)} | ${r.file_mb.toFixed(0)} |`);
  }
  lines.push('', '| kernel (1 thread, weights streamed) | K → N | fast µs | exact 1-bit µs | f32 µs | fast GOPS | f32 GOPS | f32 / fast |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of results.kernels) {
    const what = k.kind === 'gemm' ? `${k.name}, GEMM T=${k.T} (per token)` : k.kind === 'head' ? `${k.name}, int8 × 16-bit` : k.kind === 'head-q4' ? `${k.name}, 4-bit × 16-bit` : `${k.name}, GEMV`;
    const fast = m.relaxed_simd ? `${k.onebit_us.toFixed(0)} (SIMD128: ${k.onebit_simd128_us.toFixed(0)})` : k.onebit_us.toFixed(0);
    lines.push(`| ${what} | ${k.K} → ${k.N} | ${fast} | ${k.exact_us.toFixed(0)} | ${k.f32_us.toFixed(0)} | ${k.onebit_gops.toFixed(0)} | ${k.f32_gops.toFixed(1)} | ${k.speedup.toFixed(1)}x |`);
  }
  return lines.join('\n');
}

writeFileSync(output, svg(groups()));
console.log(markdown());
console.error(`wrote ${output}`);
