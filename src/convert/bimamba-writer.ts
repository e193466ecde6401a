// The one .bimamba writer (Node): the format's metadata (format, version, config, source, tokenizer;
// format/FORMAT.md) over a safetensors file whose tensors start at 64-byte-aligned offsets, with
// checksums. `bimamba convert` writes through it, and so do the benchmark's synthetic models.
import { ALIGN, FORMAT_NAME, FORMAT_VERSION, FORMAT_VERSION_Q4 } from '../format/bimamba.js';
import { headStorageOf } from '../format/tensors.js';
import type { ModelConfig } from '../format/config.js';
import type { TensorPlan } from '../format/safetensors.js';
import { SafetensorsWriter } from './safetensors-writer.js';

/** A tensor of the file: its name, dtype and shape, and how to make its bytes (asked once, in file order). */
export interface BimambaTensor extends TensorPlan {
  bytes(): Promise<Uint8Array> | Uint8Array;
}

export interface BimambaContents {
  config: ModelConfig;
  /** Where the model came from: the metadata's `source` (shown by `bimamba info`). */
  source: Record<string, unknown>;
  /** The tokenizer as a model file embeds it; none when null or left out. */
  tokenizer?: string | null;
  /** The Jinja chat template; none when null or left out. */
  chatTemplate?: string | null;
  tensors: BimambaTensor[];
}

/**
 * Write `contents` to `path`, one tensor at a time (a model never has to be in memory whole).
 * `onTensor` sees each tensor's bytes before they are written; it may throw to stop. On any error the
 * partial file is removed. Returns the size of the file.
 */
export async function writeBimambaFile(path: string, contents: BimambaContents, onTensor?: (tensor: BimambaTensor, bytes: Uint8Array) => void): Promise<number> {
  // a 4-bit head needs version 2; every other file says 1, so that older readers still read it
  const q4 = contents.tensors.some((t) => (t.name === 'embedding' || t.name === 'lm_head') && headStorageOf(t.dtype) === 'q4');
  const metadata: Record<string, string> = {
    format: FORMAT_NAME,
    format_version: q4 ? FORMAT_VERSION_Q4 : FORMAT_VERSION,
    config: JSON.stringify(contents.config),
    source: JSON.stringify(contents.source),
  };
  if (contents.tokenizer) metadata.tokenizer = contents.tokenizer;
  if (contents.chatTemplate) metadata.chat_template = contents.chatTemplate;
  const plans = contents.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
  const writer = await SafetensorsWriter.create(path, plans, metadata, { align: ALIGN, checksums: true });
  try {
    for (const t of contents.tensors) {
      const bytes = await t.bytes();
      onTensor?.(t, bytes);
      await writer.write(t.name, bytes);
    }
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return writer.fileBytes;
}
