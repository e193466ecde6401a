// `bimamba tokenize [--model FILE | --tokenizer FILE] [--decode] [--json] [text]`: the model's tokenizer on
// the command line, to see the ids a text gets (and check them against another tokenizer). The text is the
// argument, or stdin when there is none. Only the tokenizer is read: the model's header, not its weights.
//   default   one text in, its ids out as a JSON array (no BOS: the model adds it when it generates)
//   --decode  ids in (a JSON array, or numbers separated by spaces), the text out (and a newline)
//   --json    a JSON array of texts in, a JSON array of {"ids": [...], "decoded": "..."} out
import type { Command } from 'commander';
import { readStdin } from './files.js';
import { BimambaError } from '../errors.js';
import { readBimambaFileHeader } from '../format/bimamba.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { modelPath, tokenizerFromFlags } from './model-options.js';
import { dataToStdout, toStdout } from './terminal.js';

/** The --tokenizer file's tokenizer, else the one the model file's header holds. */
async function tokenizerOf(o: { model?: string; tokenizer?: string }): Promise<Tokenizer> {
  const given = await tokenizerFromFlags({ ...o, verify: false, threads: 1 });
  if (given) return given;
  const { header } = await readBimambaFileHeader(await modelPath({ model: o.model, verify: false, threads: 1 }));
  if (!header.tokenizerJson) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer: give one with --tokenizer tokenizer.json (or tokenizer.model)');
  return loadTokenizer(header.tokenizerJson);
}

function parseIds(text: string): number[] {
  const t = text.trim();
  let ids: unknown;
  try {
    ids = t.startsWith('[') ? JSON.parse(t) : t.split(/[\s,]+/).filter(Boolean).map(Number);
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `--decode: not a JSON array of ids (${(e as Error).message})`);
  }
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id))) throw new BimambaError('BAD_ARGUMENT', '--decode: expected token ids (integers)');
  return ids as number[];
}

export function registerTokenize(program: Command): void {
  const cmd = program
    .command('tokenize')
    .description("encode text to token ids (or decode ids) with the model's tokenizer")
    .argument('[text]', 'the text (default: read stdin)');
  cmd
    .option('-m, --model <file>', 'the .bimamba model file whose tokenizer to use (default: the built-in model)')
    .option('--tokenizer <file>', "a tokenizer.json or tokenizer.model to use instead of a model file's")
    .option('--decode', 'decode token ids to text instead')
    .option('--json', 'input: a JSON array of texts; output: a JSON array of {ids, decoded}')
    .action(async (text: string | undefined, o) => {
      const input = text ?? (await readStdin());
      const tok = await tokenizerOf(o);
      if (o.decode) {
        dataToStdout(tok.decode(parseIds(input)) + '\n');
      } else if (o.json) {
        let texts: unknown;
        try {
          texts = JSON.parse(input);
        } catch (e) {
          throw new BimambaError('BAD_ARGUMENT', `--json: the input is not JSON (${(e as Error).message})`);
        }
        if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw new BimambaError('BAD_ARGUMENT', '--json: expected a JSON array of strings');
        const out = texts.map((t: string) => { const ids = tok.encode(t); return { ids, decoded: tok.decode(ids) }; });
        toStdout(JSON.stringify(out) + '\n');
      } else {
        toStdout(JSON.stringify(tok.encode(input)) + '\n');
      }
    });
}
