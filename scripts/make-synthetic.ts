// Writes random-valued checkpoints in the official Bi-Mamba release layout at the real sizes of the
// paper's models (tests/util/synthetic-checkpoint.ts), to measure conversion and file sizes without
// the real weights.
//
//   npx tsx scripts/make-synthetic.ts [780m|1.3b|2.7b|all] [--out DIR]     (default DIR: .cache/synthetic)
//
// Each model lands in DIR/bimamba-NAME/{config.json, model.safetensors}. The 2.7B one is about 5.4 GB.
import { join } from 'node:path';
import { writeSyntheticBiMamba, type SyntheticSize } from '../tests/util/synthetic-checkpoint.js';

/** The paper's models. */
const SIZES: Record<string, SyntheticSize> = {
  '780m': { d_model: 1536, n_layer: 48, vocab_size: 32000 },
  '1.3b': { d_model: 2048, n_layer: 48, vocab_size: 32000 },
  '2.7b': { d_model: 2560, n_layer: 64, vocab_size: 32000 },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : '.cache/synthetic';
  const which = args.find((a, i) => !a.startsWith('--') && !(outAt >= 0 && i === outAt + 1)) ?? 'all';
  const names = which === 'all' ? Object.keys(SIZES) : [which];
  for (const name of names) {
    if (!SIZES[name]) throw new Error(`unknown size ${name}; one of ${Object.keys(SIZES).join(', ')}, all`);
    const dir = join(out, `bimamba-${name}`);
    const t0 = performance.now();
    await writeSyntheticBiMamba(dir, SIZES[name]);
    process.stdout.write(`${dir}: written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
}

await main();
