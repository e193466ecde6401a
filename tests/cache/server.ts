// The model server the cache tests talk to (127.0.0.1 only): it serves files with an ETag and
// Last-Modified, answers If-None-Match with 304 and Range/If-Range with 206, counts and records every
// request, and can misbehave on request: cut a body short, lie about Content-Length or Content-Range,
// change the ETag, ignore ranges. It also serves the project folder (the pages and the bundle).
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';

export interface Served {
  bytes: Uint8Array;
  etag: string;
  lastModified: string;
}

export interface Misbehaviour {
  /** Send only this many bytes of the next full or partial body, then drop the connection (once). */
  cutAfter?: number;
  /** Send this Content-Length instead of the true one. */
  contentLength?: number;
  /** Answer a Range request with this Content-Range (and the bytes it names, or what fits). */
  contentRange?: (start: number, size: number) => string;
  /** Send bodies in 16 KiB pieces this many ms apart (a slow network). */
  throttleMs?: number;
  /** Send this many bytes of the next body, then nothing more, keeping the connection open (once). */
  stallAfter?: number;
  /** Ignore Range headers (a server without ranges). */
  noRanges?: boolean;
  /** Answer a Range request with 206 even when If-Range does not match. */
  ignoreIfRange?: boolean;
}

export interface Seen {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface ModelServer {
  base: string;
  files: Map<string, Served>;
  seen: Seen[];
  misbehave: Misbehaviour;
  /** Requests for `path` so far. */
  count(path: string): number;
  serveFile(path: string, bytes: Uint8Array, etag?: string): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' };

export async function startModelServer(root: string | null = null, port = 0): Promise<ModelServer> {
  const files = new Map<string, Served>();
  const seen: Seen[] = [];
  const state: ModelServer = {
    base: '',
    files,
    seen,
    misbehave: {},
    count: (path) => seen.filter((s) => s.path === path).length,
    serveFile(path, bytes, etag = `"v${files.size + 1}-${bytes.length}"`) {
      files.set(path, { bytes, etag, lastModified: new Date(Date.UTC(2026, 0, 1 + files.size)).toUTCString() });
    },
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const record = (status: number) => seen.push({ path, method: req.method ?? 'GET', headers: req.headers, status });
    const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-cache' };
    const file = files.get(path);
    if (!file) {
      const local = root && normalize(join(root, decodeURIComponent(path)));
      const info = local && local.startsWith(root) ? await stat(local).catch(() => null) : null;
      const target = info?.isDirectory() ? join(local!, 'index.html') : local;
      if (!target || !(await stat(target).catch(() => null))?.isFile()) {
        record(404);
        res.writeHead(404).end('not found');
        return;
      }
      record(200);
      res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', ...isolation });
      createReadStream(target).pipe(res);
      return;
    }
    const m = state.misbehave;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', etag: file.etag, 'last-modified': file.lastModified, 'accept-ranges': m.noRanges ? 'none' : 'bytes', ...isolation };
    if (req.headers['if-none-match'] === file.etag) {
      record(304);
      res.writeHead(304, headers).end();
      return;
    }
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const ifRange = req.headers['if-range'];
    if (range && !m.noRanges && (ifRange === undefined || ifRange === file.etag || m.ignoreIfRange) && Number(range[1]) < file.bytes.length) {
      start = Number(range[1]);
      status = 206;
      headers['content-range'] = m.contentRange ? m.contentRange(start, file.bytes.length) : `bytes ${start}-${file.bytes.length - 1}/${file.bytes.length}`;
    }
    const body = file.bytes.subarray(start);
    headers['content-length'] = String(m.contentLength ?? body.length);
    record(status);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    if (m.stallAfter !== undefined) {
      const stall = m.stallAfter;
      m.stallAfter = undefined;
      res.write(body.subarray(0, stall));
      return; // the connection stays open, silent, until the server closes
    }
    if (m.cutAfter !== undefined) {
      const cut = m.cutAfter;
      m.cutAfter = undefined;
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    const send = body.subarray(0, Math.min(body.length, m.contentLength ?? body.length));
    if (m.throttleMs) {
      for (let at = 0; at < send.length && !res.destroyed; at += 16384) {
        res.write(send.subarray(at, at + 16384));
        await new Promise((r) => setTimeout(r, m.throttleMs));
      }
      res.end();
      return;
    }
    res.end(send);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  state.base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}

export const readBytes = (path: string) => new Uint8Array(readFileSync(path));
