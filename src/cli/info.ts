// `bimamba info FILE`: what a .bimamba file holds, read from its header alone.
import type { Command } from 'commander';
import { printable } from '../errors.js';
import { readBimambaFileHeader, verifyBimambaFile, type BimambaHeader } from '../format/bimamba.js';
import { fullPrecisionParams, headStorageOf, type TensorCategory } from '../format/tensors.js';
import { modelPath } from './model-options.js';
import { toStdout } from './terminal.js';

export interface InfoSummary {
  /** Bytes of tensor data by category, and everything else (header, alignment padding). */
  bytes: Record<TensorCategory | 'other', number>;
  fileBytes: number;
  /** What the same model takes as an fp16 checkpoint: 2 bytes per full-precision parameter. */
  fp16Bytes: number;
}

export function summarize(header: BimambaHeader, fileBytes: number): InfoSummary {
  const bytes = { onebit: 0, full: 0, head: 0, other: 0 };
  for (const t of header.tensors) bytes[t.category] += t.end - t.begin;
  bytes.other = fileBytes - bytes.onebit - bytes.full - bytes.head;
  return { bytes, fileBytes, fp16Bytes: 2 * fullPrecisionParams(header.config) };
}

const size = (n: number) => (n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** The config values the converter read off tensor shapes (no config file), one per line. */
function inferredLines(source: string | undefined): string[] {
  let inferred: unknown;
  try {
    inferred = JSON.parse(source ?? '{}').inferred;
  } catch {
    return [];
  }
  if (!Array.isArray(inferred)) return [];
  return ['config inferred from the tensor shapes:', ...inferred.filter((l) => typeof l === 'string').map((l) => `  ${l}`)];
}

/** The source record without its list of inferred values (printed one per line instead). */
function withoutInferred(source: string | undefined): string | undefined {
  try {
    const { inferred: _, ...rest } = JSON.parse(source ?? '');
    return JSON.stringify(rest);
  } catch {
    return source;
  }
}

/** How the embedding (and the LM head, when untied) is stored, as `--head` names it. */
function headStorage(header: BimambaHeader): string {
  const dtypes = header.tensors.filter((t) => t.category === 'head' && !t.name.endsWith('.scale')).map((t) => t.dtype);
  const storage = [...new Set(dtypes.map((d) => headStorageOf(d) ?? d))];
  return storage.map((h) => (h === 'q4' ? 'q4: 4-bit, a bf16 scale per 32 columns' : h === 'int8' ? 'int8: a scale per row' : h)).join(' and ');
}

/** The text `bimamba info` prints. */
export function formatInfo(path: string, header: BimambaHeader, fileBytes: number, showTensors = true): string {
  const c = header.config;
  const s = summarize(header, fileBytes);
  const lines = [
    `${path}: .bimamba v${header.metadata.format_version}, ${size(fileBytes)} (${fileBytes} bytes)`,
    `architecture: ${c.arch}${c.binarized ? ', in_proj/out_proj 1-bit' : ''}; source ${c.source}`,
    `  d_model ${c.d_model}, n_layer ${c.n_layer}, vocab ${c.vocab_size} (embedding rows ${c.padded_vocab_size}), d_inner ${c.d_inner}, d_state ${c.d_state}, d_conv ${c.d_conv}` +
      (c.arch === 'mamba1' ? `, dt_rank ${c.dt_rank}` : `, headdim ${c.headdim}, nheads ${c.nheads}, ngroups ${c.ngroups}`),
    `  tied embeddings: ${c.tie_embeddings}; bos ${c.bos_token_id}, eos ${c.eos_token_id}, pad ${c.pad_token_id}`,
    `tokenizer: ${header.tokenizerJson ? `embedded ${header.tokenizerJson.startsWith('{"sentencepiece"') ? 'SentencePiece model' : 'tokenizer.json'} (${size(header.tokenizerJson.length)})` : 'none'}`,
    `chat template: ${header.metadata.chat_template ? `the file's own (${size(header.metadata.chat_template.length)})` : 'none in the file: chat uses the default template (User: / Assistant: paragraphs)'}`,
    // the file's own strings, each on its one line: escaped here, whatever prints the report
    `converted from: ${printable(withoutInferred(header.metadata.source) ?? 'unknown', true)}`,
    ...inferredLines(header.metadata.source).map((l) => printable(l, true)),
  ];
  lines.push(
    `bytes: 1-bit ${size(s.bytes.onebit)}, full precision ${size(s.bytes.full)}, head ${size(s.bytes.head)} (${headStorage(header)}), header (config, tokenizer) and padding ${size(s.bytes.other)}`,
    `equivalent fp16 checkpoint: ${size(s.fp16Bytes)} (${(s.fp16Bytes / 1e9).toFixed(2)} GB), ${(s.fp16Bytes / fileBytes).toFixed(2)}x the size of this file`,
  );
  // the summary first, so it is what a reader sees without scrolling; the long list after it
  return lines.join('\n') + '\n' + (showTensors ? formatTensors(header) : '');
}

/** The list of tensors: name, dtype, shape, bytes. */
export function formatTensors(header: BimambaHeader): string {
  const width = Math.max(...header.tensors.map((t) => t.name.length));
  return ['tensors:', ...header.tensors.map((t) => `  ${printable(t.name.padEnd(width), true)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]  ${t.end - t.begin} bytes`)].join('\n') + '\n';
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the architecture, tensors and sizes of a .bimamba file')
    .argument('[file]', 'the .bimamba file (default: the built-in model)')
    .option('--no-tensors', 'leave out the list of tensors')
    .option('--no-verify', 'skip checking the checksums of the metadata and of every tensor')
    .action(async (given: string | undefined, o: { tensors: boolean; verify: boolean }) => {
      const file = await modelPath({ model: given, verify: false, threads: 1 });
      const { header, fileBytes } = await readBimambaFileHeader(file);
      toStdout(formatInfo(given ?? `${file} (the built-in model)`, header, fileBytes, false));
      if (o.verify) {
        await verifyBimambaFile(file); // throws, naming the tensor, on the first mismatch
        toStdout(`checksums: verified (crc32 of the metadata and of ${header.layout.length} tensors)\n`);
      }
      if (o.tensors) toStdout(formatTensors(header));
    });
}
