// The Bi-Mamba release's perplexity protocol (eval_bimamba.py and datautils.py of the authors' repository,
// the GPTQ / SparseGPT recipe), so that numbers are comparable with the paper's table:
//
//   ids      = [BOS] + encode("\n\n".join(documents))   one BOS for the whole text (LLaMA's tokenizer adds it)
//   windows  = len(ids) // 2048 non-overlapping windows of exactly 2048 tokens, each from a fresh state;
//              the tokens after the last full window are not evaluated (the release's loop stops there)
//   loss_w   = mean cross-entropy of the window's 2047 next-token predictions
//   ppl      = exp(mean over windows of loss_w)
//
// For WikiText-2 the documents are the rows of HF `datasets`' wikitext-2-raw-v1 test split, which are the
// lines of wiki.test.raw: each line with its "\n", and "" for a line of only whitespace.
import { BimambaError } from '../errors.js';

export const PROTOCOLS = ['bi-mamba'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The window length of the protocol. */
export const BI_MAMBA_WINDOW = 2048;

/**
 * The documents of a text file, by its form: `.jsonl` (one JSON object per line with a "text" string, as
 * `datasets`' to_json writes), `.json` (an array of strings or of {"text": ...}), otherwise plain text
 * whose lines are the documents, as HF `datasets` reads wikitext's raw files.
 */
export function readDocuments(text: string, fileName: string): string[] {
  const where = fileName;
  if (/\.jsonl$/i.test(fileName)) {
    return text.split('\n').filter((l) => l.trim() !== '').map((line, i) => documentText(parseJson(line, `${where}, line ${i + 1}`), `${where}, line ${i + 1}`));
  }
  if (/\.json$/i.test(fileName)) {
    const value = parseJson(text, where);
    if (!Array.isArray(value)) throw new BimambaError('BAD_ARGUMENT', `${where}: expected a JSON array of documents`);
    return value.map((d, i) => documentText(d, `${where}, item ${i}`));
  }
  return linesAsRows(text);
}

/** Lines with their "\n" (CR LF and CR read as "\n", as Python's text mode does); whitespace-only lines become "". */
export function linesAsRows(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split(/(?<=\n)/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.trim() === '' ? '' : line));
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `${where}: not valid JSON (${(e as Error).message})`);
  }
}

function documentText(d: unknown, where: string): string {
  if (typeof d === 'string') return d;
  if (typeof d === 'object' && d !== null && typeof (d as { text?: unknown }).text === 'string') return (d as { text: string }).text;
  throw new BimambaError('BAD_ARGUMENT', `${where}: a document must be a string or {"text": string}`);
}

/** The token ids the protocol evaluates. */
export function protocolIds(documents: string[], encode: (text: string) => number[], bosTokenId: number | null): number[] {
  if (bosTokenId === null) throw new BimambaError('UNSUPPORTED', "the bi-mamba protocol starts the text with BOS, but this model's tokenizer has no BOS token");
  return [bosTokenId, ...encode(documents.join('\n\n'))];
}
