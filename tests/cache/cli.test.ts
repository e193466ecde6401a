// `bimamba pull / list / rm` and `-m NAME`, as users run them (the built bundle), against a real HTTP
// server on 127.0.0.1: two pulls at once give one file, a killed pull resumes, a hostile name is refused.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tinyModel } from '../runtimes/model.js';
import { readBytes, startModelServer, type ModelServer } from './server.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const PATH = '/models/tiny.bimamba';
let server: ModelServer;
let fileBytes: Uint8Array;
let scratch: string;
let cache: string;

interface Ran { code: number | null; stdout: string; stderr: string }

function bimamba(args: string[], onSpawn?: (kill: () => void) => void, cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, BIMAMBA_CACHE: cache }, cwd: cwd ?? scratch, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    onSpawn?.(() => child.kill('SIGKILL'));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const cachedFile = () => readdirSync(cache).filter((n) => n.endsWith('.bimamba')).map((n) => join(cache, n));

beforeAll(async () => {
  fileBytes = readBytes(await tinyModel());
  server = await startModelServer();
  scratch = mkdtempSync(join(tmpdir(), 'bimamba-pull-'));
});
afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  cache = mkdtempSync(join(scratch, 'cache-'));
  server.serveFile(PATH, fileBytes, '"tiny-1"');
  server.misbehave = {};
  server.seen.length = 0;
});

describe('bimamba pull, list, rm', () => {
  it('pull shows progress against the total, list names it, -m NAME runs it, rm removes it', async () => {
    const pulled = await bimamba(['pull', server.base + PATH, '--name', 'tiny']);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain(`/${fileBytes.length} bytes (100 %)`);
    expect(pulled.stdout).toMatch(/^tiny: http.*tiny\.bimamba, mamba2, 0\.3 MiB/);
    expect(new Uint8Array(readFileSync(cachedFile()[0]))).toEqual(fileBytes);

    const listed = await bimamba(['list']);
    expect(listed.stdout).toMatch(new RegExp(`^NAME +SIZE +URL\\ntiny +279\\.8 KiB +${server.base}${PATH}\\n$`));

    const direct = await bimamba(['generate', '-m', join(scratch, '..', 'x-none'), '-n', '4', 'x']);
    expect(direct.code).toBe(1); // a missing path is still a missing file
    const run = await bimamba(['generate', '-m', 'tiny', '-n', '6', '-t', '0', '--no-stats', 'The history of']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.startsWith('The history of')).toBe(true);
    const info = await bimamba(['info', 'tiny', '--no-tensors']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^tiny: \.bimamba v1, 279\.8 KiB[\s\S]*checksums: verified/);
    const tokenized = await bimamba(['tokenize', '-m', 'tiny', 'ab']);
    expect(tokenized.code, tokenized.stderr).toBe(0);

    const again = await bimamba(['pull', server.base + PATH, '--name', 'tiny']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('pull cache:');
    expect(server.count(PATH)).toBe(1);

    const taken = await bimamba(['pull', server.base + '/models/other.bimamba', '--name', 'tiny']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/the name tiny is taken by/);

    expect((await bimamba(['rm', 'tiny'])).code).toBe(0);
    expect(cachedFile()).toEqual([]);
    const gone = await bimamba(['rm', 'tiny']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no cached model named tiny/);
  });

  it('a name with ../ (or a path) is refused; nothing is written outside the cache', async () => {
    for (const name of ['../escape', '..', 'a/b', '/abs', '.hidden', 'x..y']) {
      const r = await bimamba(['pull', server.base + PATH, '--name', name]);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(/invalid model name/);
      const rm = await bimamba(['rm', name]);
      expect(rm.code, name).toBe(1);
    }
    expect(readdirSync(cache)).toEqual([]);
    expect(existsSync(join(scratch, 'escape'))).toBe(false);
    expect(existsSync(join(cache, '..', 'escape'))).toBe(false);
    expect(server.count(PATH)).toBe(0);
    // a URL whose last segment climbs gets a safe default name
    const r = await bimamba(['pull', `${server.base}/models/..%2F..%2Fevil.bimamba`]);
    expect(r.stdout).not.toMatch(/\.\./);
  });

  it('two pulls of one URL at once: one download, one correct file', async () => {
    server.misbehave = { throttleMs: 20 };
    const [a, b] = await Promise.all([bimamba(['pull', server.base + PATH]), bimamba(['pull', server.base + PATH])]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(server.count(PATH)).toBe(1);
    expect(`${a.stderr}${b.stderr}`).toContain('pull cache:'); // the second waited, then read the first's copy
    expect(cachedFile()).toHaveLength(1);
    expect(new Uint8Array(readFileSync(cachedFile()[0]))).toEqual(fileBytes);
    expect(readdirSync(cache).filter((n) => !/^[0-9a-f]{16}\.(bimamba|json)$/.test(n))).toEqual([]);
  });

  it('a killed pull leaves a partial download and a stale lock; the next pull resumes with a Range request', async () => {
    server.misbehave = { throttleMs: 25 };
    await bimamba(['pull', server.base + PATH], (kill) => {
      const timer = setInterval(() => {
        const partial = readdirSync(cache).find((n) => n.endsWith('.partial'));
        if (partial && statSync(join(cache, partial)).size > fileBytes.length / 3) {
          clearInterval(timer);
          kill();
        }
      }, 20);
    });
    const partial = readdirSync(cache).find((n) => n.endsWith('.partial'))!;
    const had = statSync(join(cache, partial)).size;
    expect(had).toBeGreaterThan(0);
    expect(had).toBeLessThan(fileBytes.length);
    expect(readdirSync(cache).some((n) => n.endsWith('.lock'))).toBe(true); // left by the killed process
    const listed = await bimamba(['list']);
    expect(listed.stdout).toMatch(/\(partial\)/);

    server.misbehave = {};
    const r = await bimamba(['pull', server.base + PATH]);
    expect(r.code, r.stderr).toBe(0);
    const last = server.seen.at(-1)!;
    expect(last.status).toBe(206);
    expect(last.headers.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(String(last.headers.range))![0])).toBeGreaterThanOrEqual(had);
    expect(new Uint8Array(readFileSync(cachedFile()[0]))).toEqual(fileBytes);
    expect(readdirSync(cache).filter((n) => /lock|partial/.test(n))).toEqual([]);
  });
});
