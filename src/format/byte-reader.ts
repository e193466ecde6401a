// Sequential reading of a model file from whatever the host hands us: bytes in memory, a file (Node,
// Deno), a Blob or File, an HTTP response or a stream. `readInto` copies each byte once, straight into a destination
// the caller picks chunk by chunk (WASM memory), so no second full copy is ever held in the JS heap.
// No static Node import: node:fs/promises is imported lazily (host/node.ts), only for paths and file: URLs.
import { BimambaError, badFormat } from '../errors.js';
import * as host from '../host/node.js';
import { asUrl } from '../location.js';

export type ModelSource = string | URL | ArrayBuffer | Uint8Array | Blob | Response | ReadableStream<Uint8Array>;

export interface ByteReader {
  /** Total bytes, when the source knows it up front. */
  readonly size: number | undefined;
  /** The next `n` bytes, in a fresh array; throws BAD_FORMAT if the source ends first. */
  read(n: number): Promise<Uint8Array>;
  /** Move the next `n` bytes to `dest(offset, length)`, a view the caller provides per chunk. */
  readInto(n: number, dest: (offset: number, length: number) => Uint8Array, onChunk?: (done: number) => void): Promise<void>;
  close(): Promise<void>;
}

const FILE_CHUNK = 16 * 1024 * 1024;

const truncated = (where: string, got: number, wanted: number) =>
  badFormat(where, `truncated: the source ended after ${got} of ${wanted} bytes`);

/** Why fetch() failed: Node's "fetch failed" says why only in its cause (ECONNREFUSED, ENOTFOUND ...). */
function fetchFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error ? e.cause : undefined;
  return cause instanceof Error ? `${message} (${cause.message})` : message;
}

/** Open any supported source. `where` names it in errors. */
export async function openByteReader(source: ModelSource): Promise<{ reader: ByteReader; where: string }> {
  if (typeof source === 'string' || source instanceof URL) {
    const url = asUrl(source);
    if (url && url.protocol !== 'file:') {
      let response: Response;
      try {
        response = await fetch(url);
      } catch (e) {
        throw new BimambaError('BAD_ARGUMENT', `cannot fetch ${url.href}: ${fetchFailure(e)}`, { cause: e });
      }
      return { reader: responseReader(response, url.href), where: url.href };
    }
    const where = url ? url.href : source as string;
    return { reader: await fileReader(url ?? (source as string), where), where };
  }
  if (source instanceof Uint8Array) return { reader: memoryReader(source), where: 'model bytes' };
  if (source instanceof ArrayBuffer) return { reader: memoryReader(new Uint8Array(source)), where: 'model bytes' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const where = (source as Blob & { name?: string }).name || 'model blob'; // a File has a name
    return { reader: streamReader(source.stream(), where, source.size), where };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) return { reader: responseReader(source, source.url || 'HTTP response'), where: source.url || 'HTTP response' };
  if (typeof (source as ReadableStream<Uint8Array>)?.getReader === 'function') {
    return { reader: streamReader(source as ReadableStream<Uint8Array>, 'model stream'), where: 'model stream' };
  }
  throw new BimambaError('BAD_ARGUMENT', 'a model source must be a path, a URL, an ArrayBuffer, a Uint8Array, a Blob or File, a Response or a ReadableStream');
}

function memoryReader(bytes: Uint8Array): ByteReader {
  let pos = 0;
  return {
    size: bytes.length,
    async read(n) {
      if (pos + n > bytes.length) throw truncated('model bytes', bytes.length, pos + n);
      const out = bytes.slice(pos, pos + n);
      pos += n;
      return out;
    },
    async readInto(n, dest, onChunk) {
      if (pos + n > bytes.length) throw truncated('model bytes', bytes.length, pos + n);
      for (let done = 0; done < n;) {
        const len = Math.min(FILE_CHUNK, n - done);
        dest(done, len).set(bytes.subarray(pos + done, pos + done + len));
        done += len;
        onChunk?.(done);
      }
      pos += n;
    },
    async close() {},
  };
}

async function fileReader(path: string | URL, where: string): Promise<ByteReader> {
  const fs = await host.fsPromises();
  let file;
  try {
    file = await fs.open(path, 'r');
  } catch (e) {
    throw new BimambaError('BAD_ARGUMENT', `cannot open ${where}: ${(e as Error).message}`, { cause: e });
  }
  const fh = file;
  const stats = await fh.stat();
  if (!stats.isFile()) {
    await fh.close();
    throw new BimambaError('BAD_ARGUMENT', `cannot open ${where}: it is ${stats.isDirectory() ? 'a directory' : 'not a regular file'}, not a model file`);
  }
  const size = stats.size;
  let pos = 0;
  const fill = async (n: number, dest: (offset: number, length: number) => Uint8Array, onChunk?: (done: number) => void) => {
    for (let done = 0; done < n;) {
      const len = Math.min(FILE_CHUNK, n - done);
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(dest(done, len), 0, len, pos));
      } catch (e) {
        throw new BimambaError('BAD_ARGUMENT', `reading ${where} failed: ${(e as Error).message}`, { cause: e });
      }
      if (bytesRead === 0) throw truncated(where, pos, pos + n - done);
      done += bytesRead;
      pos += bytesRead;
      onChunk?.(done);
    }
  };
  return {
    size,
    async read(n) {
      const out = new Uint8Array(n);
      await fill(n, (offset, length) => out.subarray(offset, offset + length));
      return out;
    },
    readInto: fill,
    close: () => fh.close(),
  };
}

function responseReader(response: Response, where: string): ByteReader {
  if (!response.ok) throw new BimambaError('BAD_ARGUMENT', `fetching ${where} failed: HTTP ${response.status}`);
  if (!response.body) throw badFormat(where, 'the response has no body');
  return streamReader(response.body, where);
}

function streamReader(stream: ReadableStream<Uint8Array>, where: string, size?: number): ByteReader {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0); // bytes received but not yet consumed
  let pos = 0;
  /** Hand the next `n` bytes to `take`, piece by piece, as they arrive. */
  const pull = async (n: number, take: (piece: Uint8Array, offset: number) => void, onChunk?: (done: number) => void) => {
    let done = 0;
    while (done < n) {
      if (pending.length === 0) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw new BimambaError('BAD_ARGUMENT', `reading ${where} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        }
        if (chunk.done) throw truncated(where, pos, pos + n - done);
        if (!(chunk.value instanceof Uint8Array)) throw new BimambaError('BAD_ARGUMENT', `${where}: the stream gave something other than bytes (a Uint8Array)`);
        pending = chunk.value;
        continue;
      }
      const len = Math.min(pending.length, n - done);
      take(pending.subarray(0, len), done);
      pending = pending.subarray(len);
      done += len;
      pos += len;
      onChunk?.(done);
    }
  };
  return {
    size,
    async read(n) {
      const out = new Uint8Array(n);
      await pull(n, (piece, offset) => out.set(piece, offset));
      return out;
    },
    readInto: (n, dest, onChunk) => pull(n, (piece, offset) => dest(offset, piece.length).set(piece), onChunk),
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}
