// Writes a safetensors file tensor by tensor (Node only), so a model never has to be in memory whole.
// The header is laid out first from the planned names, dtypes and shapes; the data then follows in
// that order. The file is written under a temporary name and renamed when complete, so a failed
// conversion leaves nothing that looks like a finished file.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { BimambaError } from '../errors.js';
import { layoutSafetensors, PAD_PREFIX, type TensorEntry, type TensorPlan } from './safetensors.js';

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
  ) {
    this.entries = entries;
    this.position = dataStart;
    this.fileBytes = dataStart + dataBytes;
  }

  /** Size of the finished file. */
  readonly fileBytes: number;

  /** Create `path` (via `path.tmp`) and write its header. `align`: see layoutSafetensors. */
  static async create(path: string, tensors: TensorPlan[], metadata: Record<string, string>, align = 1): Promise<SafetensorsWriter> {
    const layout = layoutSafetensors(tensors, metadata, align);
    const tmpPath = `${path}.tmp`;
    const file = await open(tmpPath, 'w');
    try {
      await file.write(layout.head, 0, layout.head.length, 0);
    } catch (e) {
      await file.close();
      throw e;
    }
    return new SafetensorsWriter(file, path, tmpPath, layout.entries, layout.dataStart, layout.dataBytes);
  }

  /** Write the next planned tensor; `bytes` must be exactly its size. */
  async write(name: string, bytes: Uint8Array): Promise<void> {
    await this.writePadding();
    const e = this.entries[this.next];
    if (!e || e.name !== name) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: expected tensor "${e?.name ?? '(none: all written)'}" next, got "${name}"`);
    if (bytes.length !== e.end - e.begin) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: tensor "${name}" needs ${e.end - e.begin} bytes, got ${bytes.length}`);
    await this.writeAll(bytes);
    this.next++;
  }

  /** Check that every tensor was written, close and move the file into place. */
  async finish(): Promise<void> {
    await this.writePadding();
    if (this.next !== this.entries.length) throw new BimambaError('BAD_ARGUMENT', `safetensors writer: tensor "${this.entries[this.next].name}" was never written`);
    await this.file.close();
    await rename(this.tmpPath, this.path);
  }

  /** Give up: close and delete the partial file. */
  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
    await rm(this.tmpPath, { force: true });
  }

  private async writePadding(): Promise<void> {
    while (this.next < this.entries.length && this.entries[this.next].name.startsWith(PAD_PREFIX)) {
      const e = this.entries[this.next];
      await this.writeAll(new Uint8Array(e.end - e.begin));
      this.next++;
    }
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
