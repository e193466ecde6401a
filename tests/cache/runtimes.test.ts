// The disk cache in Deno and Bun (Node's is disk.test.ts): the built package loads a URL with
// `cache: true` twice; the second load makes no request and reads the copy in $BIMAMBA_CACHE.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bunBinary, denoBinary, run, shouldRun } from '../runtimes/hosts.js';
import { DIST, tinyModel } from '../runtimes/model.js';
import { readBytes, startModelServer, type ModelServer } from './server.js';

const SCRIPT = (index: string, url: string) => `
const { loadModel } = await import(${JSON.stringify(index)});
const seen = [];
for (let i = 0; i < 2; i++) {
  let source = null;
  const model = await loadModel(${JSON.stringify(url)}, { cache: true, threads: 1, onProgress: (p) => { source = p.source; } });
  const tokens = [];
  for await (const { token } of model.generate('The history of', { maxTokens: 6, temperature: 0 })) tokens.push(token);
  model.dispose();
  seen.push({ source, tokens });
}
console.log(JSON.stringify(seen));
`;

const RUNTIMES: [string, string | null, (script: string) => string[]][] = [
  ['Deno', denoBinary(), (script) => ['eval', '--ext=js', script]],
  ['Bun', bunBinary(), (script) => ['-e', script]],
];

let server: ModelServer;
let bytes: Uint8Array;
beforeAll(async () => {
  bytes = readBytes(await tinyModel());
  server = await startModelServer();
  server.serveFile('/models/tiny.bimamba', bytes);
});
afterAll(() => server?.close());

describe.each(RUNTIMES)('the disk cache in %s', (name, binary, args) => {
  it.runIf(shouldRun(name, binary, `the ${name.toLowerCase()} dev dependency`))('stores the model in $BIMAMBA_CACHE and reads it back without a request', async () => {
    const dir = mkdtempSync(join(tmpdir(), `bimamba-cache-${name.toLowerCase()}-`));
    try {
      const before = server.count('/models/tiny.bimamba');
      const script = SCRIPT(pathToFileURL(join(DIST, 'index.js')).href, `${server.base}/models/tiny.bimamba`);
      const r = await run(binary!, args(script), { env: { ...process.env, BIMAMBA_CACHE: dir, NO_COLOR: '1' }, timeoutMs: 90_000 });
      expect(r.code, r.stderr).toBe(0);
      const [first, second] = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect([first.source, second.source]).toEqual(['network', 'cache']);
      expect(second.tokens).toEqual(first.tokens);
      expect(server.count('/models/tiny.bimamba')).toBe(before + 1);
      const file = readdirSync(dir).find((n) => n.endsWith('.bimamba'))!;
      expect(new Uint8Array(readFileSync(join(dir, file)))).toEqual(bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
