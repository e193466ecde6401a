// Reads a `pytorch_model.bin` written by torch.save (the zip format of torch >= 1.6):
//   <prefix>/data.pkl      the pickled state dict, tensors as references to storages
//   <prefix>/data/<key>    the raw bytes of each storage, little-endian
//   <prefix>/byteorder     "little" (absent in old files, which are little-endian)
// Tensors sharing a storage (a tied lm_head) simply read the same bytes.
import { BimambaError, badFormat } from '../errors.js';
import { MAX_PICKLE_BYTES, unpickleStateDict, type TensorRef } from './pickle.js';
import { DTYPE_BYTES } from './safetensors.js';
import { looksLikeZip, readZipDirectory, readZipEntry, type RandomAccess, type ZipEntry } from './zip.js';

/** A tensor of a checkpoint whose bytes are read on demand (little-endian, contiguous, row-major). */
export interface StoredTensor {
  dtype: string;
  shape: number[];
  read(): Promise<Uint8Array>;
}

// What the legacy (pre-zip) torch.save format starts with: a pickled magic number.
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** Row-major strides for a shape. */
function contiguousStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

function isContiguous(t: TensorRef): boolean {
  const want = contiguousStrides(t.shape);
  // A dimension of size 1 (or an empty tensor) may carry any stride.
  return t.shape.some((d) => d === 0) || t.shape.every((d, i) => d === 1 || t.stride[i] === want[i]);
}

/** Open a torch zip checkpoint: its tensors by name, none read yet. */
export async function readTorchCheckpoint(src: RandomAccess, where: string): Promise<Map<string, StoredTensor>> {
  if (!(await looksLikeZip(src))) {
    const head = src.size >= LEGACY_MAGIC.length ? await src.read(0, LEGACY_MAGIC.length) : new Uint8Array(0);
    if (LEGACY_MAGIC.every((b, i) => head[i] === b)) {
      throw new BimambaError('UNSUPPORTED', `${where}: this is the legacy (pre-1.6) torch.save format; re-save it with a current torch (torch.save(torch.load(f), f)) or as safetensors`);
    }
    throw badFormat(where, 'not a torch checkpoint (neither a zip archive nor the legacy format)');
  }
  const entries = await readZipDirectory(src, where);
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) throw badFormat(where, `expected one <name>/data.pkl in the archive, found ${pickles.length}`);
  const prefix = pickles[0].slice(0, -'data.pkl'.length);

  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    if (byteorder.size > 16) throw badFormat(where, `the byteorder entry is ${byteorder.size} bytes; it should say "little"`);
    const order = new TextDecoder().decode(await readZipEntry(src, byteorder, where)).trim();
    if (order !== 'little') throw new BimambaError('UNSUPPORTED', `${where}: byte order "${order}"; only little-endian checkpoints are read`);
  }

  const pickle = entries.get(pickles[0])!;
  if (pickle.size > MAX_PICKLE_BYTES) throw badFormat(where, `${pickles[0]} is ${pickle.size} bytes, over the limit of ${MAX_PICKLE_BYTES} for a state dict's pickle`);
  const refs = unpickleStateDict(await readZipEntry(src, pickle, where), where);
  const out = new Map<string, StoredTensor>();
  const inflated = new InflatedStorages(src, where);
  for (const [name, t] of refs) {
    const at = `${where}, tensor "${name}"`;
    const size = DTYPE_BYTES[t.storage.dtype];
    if (!isContiguous(t)) {
      throw new BimambaError('UNSUPPORTED', `${at}: not contiguous (shape [${t.shape}], stride [${t.stride}]); save the state dict with contiguous tensors`);
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel > 0 && t.offset + numel > t.storage.numel) {
      throw badFormat(at, `elements ${t.offset}..${t.offset + numel} lie outside its storage of ${t.storage.numel}`);
    }
    const entry: ZipEntry | undefined = entries.get(`${prefix}data/${t.storage.key}`);
    if (!entry) throw badFormat(at, `storage "${t.storage.key}" is missing from the archive`);
    if (entry.size < t.storage.numel * size) {
      throw badFormat(at, `storage "${t.storage.key}" holds ${entry.size} bytes, less than its ${t.storage.numel} elements need`);
    }
    const begin = t.offset * size;
    const length = numel * size;
    if (entry.method === 0) {
      out.set(name, { dtype: t.storage.dtype, shape: t.shape, read: () => readZipEntry(src, entry, at, begin, length) });
    } else {
      inflated.add(entry, length);
      out.set(name, { dtype: t.storage.dtype, shape: t.shape, read: () => inflated.read(entry, begin, length, at) });
    }
  }
  inflated.checkBudget();
  return out;
}

/** Inflated bytes a checkpoint may cost beyond the bytes of the tensors read from its compressed storages. */
export const INFLATE_SLACK_BYTES = 1024 * 1024;

/**
 * The compressed storages of one checkpoint (torch itself stores entries uncompressed; a compressed
 * one must be inflated whole). Each is inflated once, however many tensors view it, and kept until
 * the last of them has been read; and their inflated sizes together may not pass the bytes of the
 * tensors read from them plus INFLATE_SLACK_BYTES, so views of one huge storage cannot multiply work.
 */
class InflatedStorages {
  private readonly readers = new Map<ZipEntry, number>(); // tensors of each entry not read yet
  private readonly cache = new Map<ZipEntry, Promise<Uint8Array>>();
  private tensorBytes = 0;

  constructor(private readonly src: RandomAccess, private readonly where: string) {}

  add(entry: ZipEntry, tensorBytes: number): void {
    this.readers.set(entry, (this.readers.get(entry) ?? 0) + 1);
    this.tensorBytes += tensorBytes;
  }

  checkBudget(): void {
    let inflatedBytes = 0;
    for (const entry of this.readers.keys()) inflatedBytes += entry.size;
    if (inflatedBytes > this.tensorBytes + INFLATE_SLACK_BYTES) {
      throw badFormat(this.where, `its compressed storages inflate to ${inflatedBytes} bytes, but its tensors hold only ${this.tensorBytes}: refused (at most ${INFLATE_SLACK_BYTES} bytes more than the tensors)`);
    }
  }

  async read(entry: ZipEntry, begin: number, length: number, where: string): Promise<Uint8Array> {
    let whole = this.cache.get(entry);
    if (!whole) {
      whole = readZipEntry(this.src, entry, where);
      this.cache.set(entry, whole);
    }
    const left = (this.readers.get(entry) ?? 1) - 1;
    this.readers.set(entry, left);
    if (left <= 0) this.cache.delete(entry); // a tensor read again later inflates it again
    try {
      return (await whole).slice(begin, begin + length);
    } catch (e) {
      this.cache.delete(entry);
      throw e;
    }
  }
}
