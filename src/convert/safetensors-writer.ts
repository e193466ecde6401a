// Writes a safetensors file tensor by tensor (Node only), so a model never has to be in memory whole.
// The header is laid out first from the planned names, dtypes and shapes; the data then follows in
// that order. The file is written under a temporary name beside it and renamed when complete, so a
// failed conversion leaves nothing that looks like a finished file. The temporary name is random and
// the file is created exclusively ('wx'): a file or symlink planted at a predictable name can neither
// be written through nor be mistaken for ours.
// With `checksums`, the metadata gets a `checksums` entry (checksums.ts): it is laid out with
// placeholder CRCs, the real ones are computed as the tensors are written, and the header is written
// again at the end; CRCs have a fixed width, so the header keeps its length.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BimambaError } from '../errors.js';
import { CHECKSUMS_KEY, formatChecksums, metadataCrc } from '../format/checksums.js';
import { crc32 } from '../format/crc32.js';
import { layoutSafetensors, PAD_PREFIX, type SafetensorsLayout, type TensorEntry, type TensorPlan } from '../format/safetensors.js';

export interface WriterOptions {
  /** Every tensor starts at a file offset that is a multiple of this (see layoutSafetensors). */
  align?: number;
  /** Store the CRC-32 of every tensor and of the metadata in the metadata (`checksums`). */
  checksums?: boolean;
}

/** What is needed to lay the header out again with the real checksums. */
interface ChecksumPlan {
  tensors: TensorPlan[];
  metadata: Record<string, string>;
  align: number;
  headLength: number;
  crcs: number[]; // per entry, filled as entries are written
}

export class SafetensorsWriter {
  private readonly entries: TensorEntry[];
  private next = 0; // index into entries of the next tensor to write
  private position: number; // file offset of the next byte

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly tmpPath: string,
    entries: TensorEntry[],
    dataStart: number,
    dataBytes: number,
    private readonly checksums: ChecksumPlan | null,
  ) {
    this.entries = entries;
    this.position = dataStart;
    this.fileBytes = dataStart + dataBytes;
  }

  /** Size of the finished file. */
  readonly fileBytes: number;

  /** Create `path` (via a temporary file beside it) and write its header. A number for `options` is the alignment. */
  static async create(path: string, tensors: TensorPlan[], metadata: Record<string, string>, options: number | WriterOptions = {}): Promise<SafetensorsWriter> {
    const { align = 1, checksums = false } = typeof options === 'number' ? { align: options } : options;
    let layout: SafetensorsLayout;
    let plan: ChecksumPlan | null = null;
    if (checksums) {
      // the entry names (padding included) do not depend on the metadata, so lay out once to learn them
      const entries = layoutSafetensors(tensors, metadata, align).entries;
      const placeholder = formatChecksums(0, entries.map((e) => ({ name: e.name, crc: 0 })));
      layout = layoutSafetensors(tensors, { ...metadata, [CHECKSUMS_KEY]: placeholder }, align);
      plan = { tensors, metadata, align, headLength: layout.head.length, crcs: new Array<number>(entries.length).fill(0) };
    } else {
      layout = layoutSafetensors(tensors, metadata, align);
    }
    await checkOutputPath(path);
    const tmpPath = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
    let file: FileHandle;
    try {
      file = await open(tmpPath, 'wx');
    } catch (e) {
      throw new BimambaError('BAD_ARGUMENT', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      await file.write(layout.head, 0, layout.head.length, 0);
    } catch (e) {
      await file.close();
      await rm(tmpPath, { force: true });
      throw new BimambaError('BAD_ARGUMENT', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
    }
    return new SafetensorsWriter(file, path, tmpPath, layout.entries, layout.dataStart, layout.dataBytes, plan);
  }

  /** Write the next planned tensor; `bytes` must be exactly its size. */
  async write(name: string, bytes: Uint8Array): Promise<void> {
    await this.writePadding();
    const e = this.entries[this.next];
    if (!e || e.name !== name) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: expected tensor "${e?.name ?? '(none: all written)'}" next, got "${name}"`);
    if (bytes.length !== e.end - e.begin) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: tensor "${name}" needs ${e.end - e.begin} bytes, got ${bytes.length}`);
    await this.writeEntry(bytes);
  }

  /** Check that every tensor was written, close and move the file into place. */
  async finish(): Promise<void> {
    await this.writePadding();
    if (this.next !== this.entries.length) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: tensor "${this.entries[this.next].name}" was never written`);
    if (this.checksums) await this.writeChecksums(this.checksums);
    await this.file.close();
    try {
      await rename(this.tmpPath, this.path);
    } catch (e) {
      await rm(this.tmpPath, { force: true });
      throw new BimambaError('BAD_ARGUMENT', `cannot write ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Give up: close and delete the partial file. */
  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
    await rm(this.tmpPath, { force: true });
  }

  private async writePadding(): Promise<void> {
    while (this.next < this.entries.length && this.entries[this.next].name.startsWith(PAD_PREFIX)) {
      const e = this.entries[this.next];
      await this.writeEntry(new Uint8Array(e.end - e.begin));
    }
  }

  /** Write the bytes of the next entry and note their CRC. */
  private async writeEntry(bytes: Uint8Array): Promise<void> {
    await this.writeAll(bytes);
    if (this.checksums) this.checksums.crcs[this.next] = crc32(bytes);
    this.next++;
  }

  /** Lay the header out again with the real CRCs and write it over the first one. */
  private async writeChecksums(plan: ChecksumPlan): Promise<void> {
    const value = formatChecksums(metadataCrc(plan.metadata), this.entries.map((e, i) => ({ name: e.name, crc: plan.crcs[i] })));
    const { head } = layoutSafetensors(plan.tensors, { ...plan.metadata, [CHECKSUMS_KEY]: value }, plan.align);
    if (head.length !== plan.headLength) throw new BimambaError('BAD_ARGUMENT', 'safetensors writer: the header changed length when its checksums were filled in');
    await this.file.write(head, 0, head.length, 0);
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }
}

/** The output must be a file (or nothing yet) in a directory that exists. */
async function checkOutputPath(path: string): Promise<void> {
  const dir = dirname(path);
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `cannot write ${path}: the directory ${dir} does not exist`);
  const existing = await stat(path).catch(() => null);
  if (existing && !existing.isFile()) throw new BimambaError('BAD_ARGUMENT', `cannot write ${path}: it is a directory or another non-file`);
}
