// `bimamba ppl --model FILE --text FILE [--window 2048] [--protocol bi-mamba] [--json]`: perplexity of a model on a text.
import { basename } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Option, type Command } from 'commander';
import { BimambaError } from '../errors.js';
import { perplexity } from '../eval/perplexity.js';
import { BI_MAMBA_WINDOW, PROTOCOLS, protocolIds, readDocuments } from '../eval/protocol.js';
import { readTextFile } from './files.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { toStdout } from './terminal.js';
import { integerAtLeast } from './options.js';

export function registerPpl(program: Command): void {
  const cmd = program
    .command('ppl')
    .description('perplexity over non-overlapping windows of a text file (the paper\'s evaluation)')
    .requiredOption('--text <file>', 'the text to evaluate (with --protocol: documents, one per line, or .jsonl / .json)');
  addModelOptions(cmd)
    .option('-w, --window <n>', `tokens per window, each from a fresh state (default ${BI_MAMBA_WINDOW})`, integerAtLeast(2))
    .addOption(new Option('--protocol <name>', "bi-mamba: the release's evaluation: documents joined by a blank line, one BOS, full windows only, mean of the window losses").choices(PROTOCOLS))
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const window: number = o.window ?? BI_MAMBA_WINDOW;
      const text = await readTextFile(o.text); // before the model loads: a wrong --text fails at once
      const model = await loadModelFromFlags(o);
      try {
        const tok = model.tokenizer;
        if (!tok) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer, so it cannot read text');
        const ids = o.protocol ? protocolIds(readDocuments(text, basename(o.text)), tok.encode, model.bosTokenId) : tok.encode(text);
        const average = o.protocol ? 'full-windows' : 'tokens';
        const bar = o.json || !process.stderr.isTTY ? null : new SingleBar({ format: 'ppl |{bar}| {value}/{total} windows | {eta_formatted} left' }, Presets.shades_classic);
        const t0 = performance.now();
        bar?.start(o.protocol ? Math.floor(ids.length / window) : Math.ceil(ids.length / window), 0);
        const r = await perplexity(model, ids, { window, average, onWindow: (done) => bar?.update(done) });
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
        const out = { model: o.model ?? 'built-in', text: o.text, protocol: o.protocol ?? null, window, tokens: ids.length, ...r, seconds };
        if (o.json) toStdout(`${JSON.stringify(out, null, 2)}\n`);
        else {
          const rest = o.protocol && ids.length % window ? `; the last ${ids.length % window} tokens, short of a window, are not evaluated` : '';
          toStdout(`perplexity ${r.ppl.toFixed(3)} over ${r.predicted} predicted tokens in ${r.windows} window(s) of ${window}${rest} (${seconds.toFixed(1)} s)\n`);
          if (r.scoredIds < model.vocabSize) toStdout(`(the softmax runs over the tokenizer's ${r.scoredIds} ids; the model's other ${model.vocabSize - r.scoredIds} rows are padding, not scored)\n`);
        }
      } finally {
        model.dispose();
      }
    });
}
