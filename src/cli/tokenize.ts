// `bimamba tokenize [--model FILE] [--decode] [--json] [text]`: the model's tokenizer on the command line,
// to see the ids a text gets (and check them against another tokenizer). The text is the argument, or
// stdin when there is none.
//   default   one text in, its ids out as a JSON array (no BOS: the model adds it when it generates)
//   --decode  ids in (a JSON array, or numbers separated by spaces), the text out
//   --json    a JSON array of texts in, a JSON array of {"ids": [...], "decoded": "..."} out
import type { Command } from 'commander';
import { BimambaError } from '../errors.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { dataToStdout, toStdout } from './terminal.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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
  addModelOptions(cmd)
    .option('--decode', 'decode token ids to text instead')
    .option('--json', 'input: a JSON array of texts; output: a JSON array of {ids, decoded}')
    .action(async (text: string | undefined, o) => {
      const input = text ?? (await readStdin());
      const model = await loadModelFromFlags(o);
      try {
        const tok = model.tokenizer;
        if (!tok) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer');
        if (o.decode) {
          dataToStdout(tok.decode(parseIds(input)));
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
      } finally {
        model.dispose();
      }
    });
}
