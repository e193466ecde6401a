// The .bimamba model file: a safetensors file whose metadata holds the config and the tokenizer and
// whose tensors all start at 64-byte-aligned file offsets (see FORMAT.md). This is the runtime
// loader, used in every host: it checks the header, then streams the data section once, in file
// order, into one block of WASM memory, where the kernels read each tensor in place.
import { BimambaError, badFormat } from '../errors.js';
import type { Heap } from '../wasm/heap.js';
import { openByteReader, type ByteReader, type ModelSource } from './byte-reader.js';
import { checkJsonShape } from './json-shape.js';
import { preview } from './preview.js';
import { CHECKSUMS_KEY, DataVerifier, readChecksums, tensorAt } from './checksums.js';
import { crc32 } from './crc32.js';
import { validateModelConfig, type ModelConfig } from './config.js';
import { PAD_PREFIX, parseSafetensorsHeader, readHeaderBytes, readHeaderLength, type SafetensorsHeader, type TensorEntry } from './safetensors.js';
import { headStorageOf, headTensors, modelTensorSpecs, type ModelDtype, type TensorCategory } from './tensors.js';

export type { ModelSource } from './byte-reader.js';

export const FORMAT_NAME = 'bimamba';
export const FORMAT_VERSION = '1';
/**
 * Version 1 plus 4-bit heads (`--head q4`): written only by files that have one, so that every other
 * file stays readable by older readers, and an older reader refuses a 4-bit head as a version it does
 * not know instead of as a damaged file.
 */
export const FORMAT_VERSION_Q4 = '2';
/** Every tensor, and the data section itself, starts at a multiple of this file offset. */
export const ALIGN = 64;

export interface TensorView {
  dtype: ModelDtype;
  shape: number[];
  /** Address in WASM memory. */
  ptr: number;
  byteLength: number;
}

export interface BimambaFile {
  config: ModelConfig;
  /** The tokenizer.json text ('' when the file was converted without one). */
  tokenizerJson: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorView>;
  /** The one heap block holding every tensor: give it back with heap.release(dataPtr). */
  dataPtr: number;
  dataBytes: number;
  /**
   * CRC-32 of the whole data section, computed while it streamed in, for a file without a checksums
   * entry (null when it has one: its checksums then stand for the weights).
   */
  dataCrc: number | null;
}

export interface BimambaHeaderTensor extends TensorEntry {
  category: TensorCategory;
}

export interface BimambaHeader {
  config: ModelConfig;
  tokenizerJson: string;
  metadata: Record<string, string>;
  /** Model tensors in data order (padding left out); offsets relative to the data section. */
  tensors: BimambaHeaderTensor[];
  /** Every tensor of the data section, padding included, in data order: what the checksums cover. */
  layout: TensorEntry[];
  /** File offset of the data section. */
  dataStart: number;
  dataBytes: number;
}

export interface LoadOptions {
  /** Called as the data section arrives: bytes so far, bytes in all. */
  onProgress?: (loaded: number, total: number) => void;
  /** Check the CRC-32 of the metadata and of every tensor as the data arrives (FORMAT.md, "Checksums"). */
  verify?: boolean;
  /** Called with the checked header before any memory is allocated; throw to stop the load. */
  onHeader?: (header: BimambaHeader) => void;
}

/** Check a parsed header: format, version, config, and that its tensors are the ones the config implies. */
function checkBimamba(h: SafetensorsHeader, where: string): BimambaHeader {
  const m = h.metadata;
  if (m.format !== FORMAT_NAME) throw badFormat(where, `not a .bimamba file (metadata "format" is ${preview(m.format ?? null)}); convert checkpoints with \`bimamba convert\``);
  if (m.format_version !== FORMAT_VERSION && m.format_version !== FORMAT_VERSION_Q4) {
    throw new BimambaError('UNSUPPORTED', `${where}: .bimamba format version ${preview(m.format_version ?? null)}; this version of the package reads versions ${FORMAT_VERSION} and ${FORMAT_VERSION_Q4}`);
  }
  if (h.dataStart % ALIGN !== 0) throw badFormat(where, `the data section starts at file offset ${h.dataStart}, not a multiple of ${ALIGN}`);
  let configJson: unknown;
  checkJsonShape(m.config ?? '', `${where}: metadata "config"`);
  try {
    configJson = JSON.parse(m.config ?? '');
  } catch {
    throw badFormat(where, 'metadata "config" is missing or not JSON');
  }
  const config = validateModelConfig(configJson);
  // Every layer has several tensors: a config claiming more layers than the file has tensors is
  // refused before the list of expected tensors (whose length grows with n_layer) is built.
  if (config.n_layer > h.tensors.length) throw badFormat(where, `the config says ${config.n_layer} layers, but the file has only ${h.tensors.length} tensors`);

  const byName = new Map<string, TensorEntry>();
  for (const t of h.tensors) {
    if (t.name.startsWith(PAD_PREFIX)) continue;
    if (t.begin % ALIGN !== 0) throw badFormat(where, `tensor "${t.name}" starts at data offset ${t.begin}, not a multiple of ${ALIGN}`);
    byName.set(t.name, t);
  }
  const tensors: BimambaHeaderTensor[] = [];
  const expected = new Set<string>();
  const want = (name: string, shape: number[], dtypes: string[], category: TensorCategory) => {
    expected.add(name);
    const t = byName.get(name);
    if (!t) throw badFormat(where, `tensor "${name}" is missing (the config implies shape [${shape}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw badFormat(where, `tensor "${name}" has shape [${t.shape}], but the config implies [${shape}]`);
    }
    if (!dtypes.includes(t.dtype)) throw badFormat(where, `tensor "${name}" has dtype ${t.dtype}; expected ${dtypes.join(' or ')}`);
    tensors.push({ ...t, category });
    return t;
  };
  for (const s of modelTensorSpecs(config)) {
    const storage = s.category === 'head' ? headStorageOf(byName.get(s.name)?.dtype ?? '') : null;
    if (storage === null) {
      want(s.name, s.shape, s.dtypes, s.category); // names what is missing or wrong
      continue;
    }
    if (storage === 'q4' && m.format_version === FORMAT_VERSION) {
      throw badFormat(where, `tensor "${s.name}" is a 4-bit head (U8), which needs format version ${FORMAT_VERSION_Q4}; the file says ${FORMAT_VERSION}`);
    }
    // the head and its scale, each of exactly the shape its storage implies (the kernels read that many bytes)
    for (const t of headTensors(s, storage)) want(t.name, t.shape, [t.dtype], s.category);
  }
  for (const name of byName.keys()) {
    if (!expected.has(name)) throw badFormat(where, `unexpected tensor "${name}" (not part of a ${config.arch} model with this config)`);
  }
  tensors.sort((a, b) => a.begin - b.begin);
  return { config, tokenizerJson: m.tokenizer ?? '', metadata: m, tensors, layout: h.tensors, dataStart: h.dataStart, dataBytes: h.dataBytes };
}

/**
 * Read and check the header of a .bimamba file. `bytes` starts at file offset 0 and holds at least the
 * whole header (the data section may be left out); `fileSize`, when known, is checked against it.
 */
export function readBimambaHeader(bytes: Uint8Array, opts: { fileSize?: number; where?: string } = {}): BimambaHeader {
  const where = opts.where ?? '.bimamba file';
  return checkBimamba(parseSafetensorsHeader(bytes, { fileSize: opts.fileSize, where }), where);
}

/**
 * The header length in a .bimamba file's first 8 bytes. Bytes that cannot be one (a text file's, say:
 * its first letters make a length of exabytes) mean the file is not a .bimamba file at all, and say so.
 */
function readBimambaHeaderLength(first8: Uint8Array, where: string): number {
  if (first8.length < 8) return readHeaderLength(first8, where); // the "truncated" error
  try {
    return readHeaderLength(first8, where);
  } catch (e) {
    if (!(e instanceof BimambaError && e.code === 'BAD_FORMAT')) throw e;
    const start = preview(String.fromCharCode(...first8).replace(/[^\x20-\x7e]/g, '.'));
    throw badFormat(where, `not a .bimamba file: it does not start with a safetensors header length (its first bytes: ${start})`);
  }
}

/** Read the 8-byte length and the header from the start of a source, and check them. */
async function readHeader(reader: ByteReader, where: string): Promise<BimambaHeader> {
  const bytes = await readHeaderBytes((n) => reader.read(n), reader.size, where, readBimambaHeaderLength);
  return readBimambaHeader(bytes, { fileSize: reader.size, where });
}

/**
 * Read and check only the header of a .bimamba file (its data is never read). `fileBytes` is the
 * source's size, or, for a stream that does not say, the size its header implies.
 */
export async function readBimambaFileHeader(source: ModelSource): Promise<{ header: BimambaHeader; fileBytes: number }> {
  const { reader, where } = await openByteReader(source);
  try {
    const header = await readHeader(reader, where);
    return { header, fileBytes: reader.size ?? header.dataStart + header.dataBytes };
  } finally {
    await reader.close();
  }
}

/**
 * Stream the data section into `dest(offset, length)` views (offsets into the data section), checking
 * checksums on the way when `verify`. A source that ends early is refused naming the tensor it ends in.
 */
async function readData(reader: ByteReader, header: BimambaHeader, where: string, verify: boolean, dest: (offset: number, length: number) => Uint8Array, onProgress?: (loaded: number, total: number) => void, onBytes?: (bytes: Uint8Array) => void): Promise<void> {
  const total = header.dataBytes;
  const verifier = verify ? new DataVerifier(header.layout, readChecksums(header.metadata, header.layout, where), where) : null;
  let done = 0;
  try {
    await reader.readInto(total, dest, (now) => {
      const arrived = dest(done, now - done); // the bytes that just arrived
      verifier?.push(arrived);
      onBytes?.(arrived);
      done = now;
      onProgress?.(now, total);
    });
  } catch (e) {
    if (e instanceof BimambaError && e.code === 'BAD_FORMAT' && /truncated/.test(e.message)) {
      throw badFormat(where, `truncated: the data ends inside tensor "${tensorAt(header.layout, done)?.name}" (data offset ${done} of ${total})`);
    }
    throw e;
  }
  verifier?.finish();
}

/**
 * Load a .bimamba file into `heap`: the header is read and checked first; then one block of the data
 * section's size is allocated and the bytes are streamed into it. On any error the block is released.
 */
export async function loadBimambaFile(source: ModelSource, heap: Heap, opts: LoadOptions = {}): Promise<BimambaFile> {
  const { reader, where } = await openByteReader(source);
  try {
    const header = await readHeader(reader, where);
    opts.onHeader?.(header);
    const total = header.dataBytes;
    if (!heap.wouldFit(total)) {
      throw new BimambaError('OUT_OF_MEMORY', `${where}: the model's ${total} bytes of weights do not fit in the WASM memory left under its cap`);
    }
    const base = heap.alloc(total, 'model weights');
    let dataCrc: number | null = Object.hasOwn(header.metadata, CHECKSUMS_KEY) ? null : 0;
    const onBytes = dataCrc === null ? undefined : (bytes: Uint8Array) => { dataCrc = crc32(bytes, dataCrc!); };
    try {
      await readData(reader, header, where, opts.verify ?? false, (offset, length) => heap.u8(base + offset, length), opts.onProgress, onBytes);
    } catch (e) {
      heap.release(base);
      throw e;
    }

    const tensors = new Map<string, TensorView>();
    for (const t of header.tensors) {
      tensors.set(t.name, { dtype: t.dtype as ModelDtype, shape: t.shape, ptr: base + t.begin, byteLength: t.end - t.begin });
    }
    return { config: header.config, tokenizerJson: header.tokenizerJson, metadata: header.metadata, tensors, dataPtr: base, dataBytes: total, dataCrc };
  } finally {
    await reader.close();
  }
}

/**
 * Check a .bimamba file's checksums without loading it: the header, then the data streamed through a
 * small buffer. Returns the header; throws a BAD_FORMAT error naming the first corrupt tensor.
 */
export async function verifyBimambaFile(source: ModelSource, opts: Pick<LoadOptions, 'onHeader' | 'onProgress'> = {}): Promise<BimambaHeader> {
  const { reader, where } = await openByteReader(source);
  try {
    const header = await readHeader(reader, where);
    opts.onHeader?.(header);
    let buffer = new Uint8Array(0); // reused for every chunk; grows to the reader's chunk size
    const dest = (_offset: number, length: number) => {
      if (buffer.length < length) buffer = new Uint8Array(length);
      return buffer.subarray(0, length);
    };
    await readData(reader, header, where, true, dest, opts.onProgress);
    return header;
  } finally {
    await reader.close();
  }
}
