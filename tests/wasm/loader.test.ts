// The WASM loader (src/wasm/loader.ts): every way of failing to get a core is a BimambaError naming what
// went wrong; Windows paths are paths, not URLs; compiled modules are cached by build or location, and
// a caller's bytes are not kept alive by the cache.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { asUrl } from '../../src/location.js';
import { compileCore } from '../../src/wasm/loader.js';
import { rejection } from '../util/errors.js';
import { WASM } from '../util/wasm.js';

describe('URL or path', () => {
  it('a drive letter is a path; a scheme of two or more characters is a URL', () => {
    for (const path of ['C:\\x\\bimamba.wasm', 'c:/x/bimamba.wasm', 'D:model.bimamba', '/abs/x', 'rel/x', 'x.bimamba']) expect(asUrl(path)).toBeNull();
    expect(asUrl('file:///tmp/x')?.protocol).toBe('file:');
    expect(asUrl('https://example.com/x')?.host).toBe('example.com');
    const e = (() => { try { asUrl('http://'); } catch (e) { return e; } })();
    expect(e).toBeInstanceOf(BimambaError);
  });
});

describe('compileCore', () => {
  it('treats a Windows path as a path: a clear WASM_LOAD error naming it, not a fetch TypeError', async () => {
    const e = await rejection(compileCore('C:\\x\\bimamba.wasm'));
    expect(e).toBeInstanceOf(BimambaError);
    expect(e.code).toBe('WASM_LOAD');
    expect(e.message).toContain('C:\\x\\bimamba.wasm');
  });

  it('every failure is a BimambaError: missing file, unreachable URL, HTTP error, not WASM, wrong kind of source', async () => {
    const server = createServer((req, res) => { res.statusCode = req.url === '/missing' ? 404 : 200; res.end('not wasm'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cases: [() => Promise<unknown>, string, RegExp][] = [
        [() => compileCore('/no/such/dir/bimamba.wasm'), 'WASM_LOAD', /\/no\/such\/dir\/bimamba\.wasm/],
        [() => compileCore(new URL('file:///no/such/bimamba.wasm')), 'WASM_LOAD', /no\/such/],
        [() => compileCore('http://127.0.0.1:1/bimamba.wasm'), 'WASM_LOAD', /fetching the WASM core from http:\/\/127\.0\.0\.1:1/],
        [() => compileCore(`${base}/missing`), 'WASM_LOAD', /HTTP 404/],
        [() => compileCore(`${base}/ok`), 'WASM_LOAD', /could not be compiled/],
        [() => compileCore(new Uint8Array([1, 2, 3])), 'WASM_LOAD', /could not be compiled/],
        [() => compileCore(42 as never), 'BAD_ARGUMENT', /must be/],
        [() => compileCore('http://'), 'BAD_ARGUMENT', /not a valid URL/],
      ];
      for (const [p, code, message] of cases) {
        const e = await rejection(p());
        expect(e, String(message)).toBeInstanceOf(BimambaError);
        expect(e.code).toBe(code);
        expect(e.message).toMatch(message);
      }
    } finally {
      server.close();
    }
  });

  it('compiles a path or URL once, and bytes once per buffer', async () => {
    expect(await compileCore(WASM)).toBe(await compileCore(WASM));
    const url = new URL(`file://${WASM}`);
    expect(await compileCore(url)).toBe(await compileCore(new URL(url.href)));
    const bytes = readFileSync(WASM);
    const whole = new Uint8Array(bytes);
    expect(await compileCore(whole)).toBe(await compileCore(whole));
    expect(await compileCore(whole)).not.toBe(await compileCore(new Uint8Array(bytes)));
  });
});
