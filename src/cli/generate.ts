// `bimamba generate [--model FILE] [sampling flags] PROMPT`: stream a continuation to stdout.
import type { Command } from 'commander';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { parseNumber, parseInteger } from './options.js';

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate text from a prompt, streamed to stdout')
    .argument('[prompt...]', 'the prompt (default: a short sample prompt)');
  addModelOptions(cmd)
    .option('-n, --max-tokens <n>', 'most tokens to generate', parseInteger, 128)
    .option('-t, --temperature <t>', 'sampling temperature; 0 is greedy', parseNumber, 0.8)
    .option('--top-k <k>', 'keep the k most likely tokens (0: off)', parseInteger, 40)
    .option('--top-p <p>', 'nucleus sampling threshold (1: off)', parseNumber, 0.95)
    .option('--min-p <p>', 'drop tokens under p times the best (0: off)', parseNumber, 0)
    .option('--repetition-penalty <r>', 'penalty on recent tokens (1: off)', parseNumber, 1.1)
    .option('-s, --seed <n>', 'random seed (same seed, same text)', parseInteger)
    .option('--stop <text...>', 'stop when the text reaches one of these')
    .option('--stats', 'print tokens/s to stderr', true)
    .option('--no-stats', 'do not print tokens/s')
    .action(async (promptWords: string[], o) => {
      const prompt = promptWords.length ? promptWords.join(' ') : 'The history of the world';
      const t0 = performance.now();
      const model = await loadModelFromFlags(o);
      const loadS = (performance.now() - t0) / 1000;
      process.stdout.write(prompt);
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      let n = 0;
      let tFirst = 0;
      try {
        for await (const { text } of model.generate(prompt, {
          maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP,
          repetitionPenalty: o.repetitionPenalty, seed: o.seed, stop: o.stop, signal: ac.signal,
        })) {
          if (n === 0) tFirst = performance.now();
          n++;
          process.stdout.write(text);
        }
      } finally {
        process.stdout.write('\n');
        if (o.stats && n > 0) {
          const s = (performance.now() - tFirst) / 1000;
          const rate = n > 1 ? ((n - 1) / s).toFixed(1) : 'n/a';
          process.stderr.write(`[${n} tokens, ${rate} tokens/s decoding, model loaded in ${loadS.toFixed(2)} s]\n`);
        }
        model.dispose();
      }
    });
}
