// `bimamba ppl --model FILE --text FILE [--window 2048] [--json]`: perplexity of a model on a text file.
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { BimambaError } from '../errors.js';
import { perplexity } from '../eval/perplexity.js';
import { readTextFile } from './files.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { integerAtLeast } from './options.js';

export function registerPpl(program: Command): void {
  const cmd = program
    .command('ppl')
    .description('perplexity over non-overlapping windows of a text file (the paper\'s evaluation)')
    .requiredOption('--text <file>', 'the text file to evaluate');
  addModelOptions(cmd)
    .option('-w, --window <n>', 'tokens per window, each from a fresh state', integerAtLeast(2), 2048)
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const text = await readTextFile(o.text); // before the model loads: a wrong --text fails at once
      const model = await loadModelFromFlags(o);
      try {
        if (!model.tokenizer) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer, so it cannot read text');
        const ids = model.tokenizer.encode(text);
        const bar = o.json || !process.stderr.isTTY ? null : new SingleBar({ format: 'ppl |{bar}| {value}/{total} windows | {eta_formatted} left' }, Presets.shades_classic);
        const t0 = performance.now();
        bar?.start(Math.ceil(ids.length / o.window), 0);
        const r = await perplexity(model, ids, o.window, (done) => bar?.update(done));
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
        const out = { model: o.model ?? 'built-in', text: o.text, window: o.window, tokens: ids.length, ...r, seconds };
        if (o.json) console.log(JSON.stringify(out, null, 2));
        else console.log(`perplexity ${r.ppl.toFixed(3)} over ${r.predicted} predicted tokens in ${r.windows} window(s) of ${o.window} (${seconds.toFixed(1)} s)`);
      } finally {
        model.dispose();
      }
    });
}
