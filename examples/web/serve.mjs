// A tiny static server for the demo (`npm run demo`) and the browser example: serves the project
// folder on 127.0.0.1, with the two headers that make a page cross-origin isolated, so the model may
// run on several threads (SharedArrayBuffer).
//   node examples/web/serve.mjs [PORT]
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The file a URL path names under `root`, or null when it would leave `root`. */
function fileFor(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // a malformed escape: no such file
  }
  const path = normalize(join(root, decoded));
  return path === root.replace(/[\\/]$/, '') || path.startsWith(root.endsWith(sep) ? root : root + sep) ? path : null;
}

/** Start serving `root` on 127.0.0.1:port (0: any free port). Resolves to the server once it listens. */
export function serve(root = ROOT, port = 0) {
  const server = createServer(async (req, res) => {
    let path = fileFor(root, new URL(req.url ?? '/', 'http://localhost').pathname);
    let info = path && (await stat(path).catch(() => null));
    if (info?.isDirectory()) {
      path = join(path, 'index.html');
      info = await stat(path).catch(() => null);
    }
    if (!path || !info?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await serve(ROOT, Number(process.argv[2] ?? 8080));
  console.log(`bimamba demo: http://127.0.0.1:${server.address().port}/examples/web/`);
}
