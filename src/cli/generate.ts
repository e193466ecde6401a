// `bimamba generate [flags] [PROMPT...]`: stream a continuation to stdout. The prompt comes from the
// arguments, -p, or stdin (when none is given and stdin is not a terminal, or when it is `-`); or as token
// ids (--ids), which is how a model file without a tokenizer is run: its output is then token ids too.
import type { Command } from 'commander';
import { readStdin } from './files.js';
import { GENERATION_DEFAULTS as D, MAX_TEMPERATURE } from '../generate/defaults.js';
import { BimambaError } from '../errors.js';
import type { Usage } from '../generate/generate.js';
import { readStructuredFlags } from './structured.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { collect, integerAtLeast, parseInteger, samplingFlag, temperatureFlag, unescape, UsageError } from './options.js';
import { dataToStdout, toStderr } from './terminal.js';

const SAMPLE_PROMPT = 'The history of the world';

/** The prompt from the arguments, -p or stdin; checked before the model loads. */
async function readPrompt(words: string[], flag: string | undefined): Promise<string> {
  if (flag !== undefined && words.length) throw new UsageError('give the prompt either as arguments or with -p/--prompt, not both');
  const given = flag ?? (words.length ? words.join(' ') : undefined);
  if (given === '-' || (given === undefined && !process.stdin.isTTY)) {
    const text = (await readStdin()).replace(/\r?\n$/, ''); // `echo text |` adds a newline the prompt did not mean
    if (text) return text;
    // nothing piped in (stdin is /dev/null, say): the sample prompt, unless '-' asked for stdin
    if (given === '-') throw new UsageError('the prompt read from stdin is empty');
    toStderr(`no prompt given and stdin is empty: using the sample prompt "${SAMPLE_PROMPT}"\n`);
  }
  if (given === '') throw new UsageError('the prompt is empty');
  return given ?? SAMPLE_PROMPT;
}

/** --ids: token ids separated by commas or spaces; checked before the model loads. */
function parseIds(v: string, words: string[], flag: string | undefined): number[] {
  if (flag !== undefined || words.length) throw new UsageError('give the prompt either as text or as token ids (--ids), not both');
  const parts = v.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new UsageError('--ids: no token ids given (for example --ids 1,2,3)');
  return parts.map((p) => {
    const id = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(id)) throw new UsageError(`--ids: '${p}' is not a token id (a whole number ≥ 0)`);
    return id;
  });
}

function statsLine(usage: Usage, loadS: number, finish: string): string {
  const rate = usage.decodeMs > 0 ? (usage.generatedTokens / (usage.decodeMs / 1000)).toFixed(1) : 'n/a';
  return `[${usage.generatedTokens} tokens, ${rate} tokens/s decoding, prompt ${usage.promptTokens} tokens in ${usage.prefillMs.toFixed(0)} ms, model loaded in ${loadS.toFixed(2)} s; ended: ${finish}]\n`;
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate text from a prompt, streamed to stdout')
    .argument('[prompt...]', `the prompt; '-' or none with a piped stdin reads it from stdin (default: "${SAMPLE_PROMPT}")`)
    .option('-p, --prompt <text>', 'the prompt, as one argument')
    .option('--ids <ids>', 'the prompt as token ids, separated by commas or spaces (a model without a tokenizer prints ids too)');
  addModelOptions(cmd)
    .option('-n, --max-tokens <n>', 'most tokens to generate', integerAtLeast(0), D.maxTokens)
    .option('-t, --temperature <t>', `sampling temperature in [0, ${MAX_TEMPERATURE}]; 0 is greedy`, temperatureFlag, D.temperature)
    .option('--top-k <k>', 'keep the k most likely tokens (0: off)', samplingFlag('topK', true), D.topK)
    .option('--top-p <p>', 'nucleus sampling threshold (1: off)', samplingFlag('topP'), D.topP)
    .option('--min-p <p>', 'drop tokens under p times the best (0: off)', samplingFlag('minP'), D.minP)
    .option('--repetition-penalty <r>', 'penalty on recent tokens (1: off)', samplingFlag('repetitionPenalty'), D.repetitionPenalty)
    .option('-s, --seed <n>', 'random seed (same seed, same text; default: random)', parseInteger)
    .option('--stop <text>', 'stop when the text reaches this (repeat the flag for several)', collect, [])
    .option('--json-schema <file>', 'constrain the output to JSON that this JSON Schema file accepts')
    .option('--grammar <file>', 'constrain the output to this GBNF grammar file (llama.cpp\'s format)')
    .option('--json', 'constrain the output to one JSON value')
    .option('-e, --escape', 'read \\n \\t \\\\ \\xHH ... in the prompt and stop strings as escapes')
    .option('--stats', 'print the stats line (tokens/s) to stderr', true)
    .option('--no-stats', 'do not print the stats line')
    .action(async (words: string[], o) => {
      const esc = (s: string) => (o.escape ? unescape(s) : s);
      const prompt: string | number[] = o.ids !== undefined ? parseIds(o.ids, words, o.prompt) : esc(await readPrompt(words, o.prompt));
      const stop = (o.stop as string[]).map(esc);
      const structured = await readStructuredFlags(o);
      const t0 = performance.now();
      const model = await loadModelFromFlags(o);
      const loadS = (performance.now() - t0) / 1000;
      const tokenizer = model.tokenizer;
      if (!tokenizer && (typeof prompt === 'string' || stop.length)) {
        model.dispose();
        const what = typeof prompt === 'string' ? 'give the prompt as token ids (--ids 1,2,3)' : '--stop needs text to match';
        throw new BimambaError('UNSUPPORTED', `the model file has no tokenizer, so it cannot read text: ${what}, or give a tokenizer (--tokenizer tokenizer.json)`);
      }
      // Ctrl-C ends the generation with what it has (and the stats line); a second one ends the process.
      const ac = new AbortController();
      const onSigint = () => {
        if (ac.signal.aborted) process.exit(130);
        ac.abort();
      };
      process.on('SIGINT', onSigint);
      let ids = 0;
      try {
        // the prompt as text, then the text generated; without a tokenizer, the ids generated
        if (tokenizer) dataToStdout(typeof prompt === 'string' ? prompt : tokenizer.decode(prompt));
        for await (const item of model.generate(prompt, {
          maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP,
          repetitionPenalty: o.repetitionPenalty, seed: o.seed, stop, signal: ac.signal, abort: 'finish', ...structured,
        })) {
          if (tokenizer) dataToStdout(item.text);
          else if (item.token >= 0) dataToStdout(`${ids++ ? ' ' : ''}${item.token}`);
          if (item.finishReason) {
            dataToStdout('\n');
            if (o.stats) toStderr(statsLine(item.usage!, loadS, item.finishReason));
            if (item.finishReason === 'abort') process.exitCode = 130;
          }
        }
      } finally {
        process.off('SIGINT', onSigint);
        model.dispose();
      }
    });
}
