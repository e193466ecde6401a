// What the CLI prints never carries a file's escape sequences to the terminal: every write to stdout and
// stderr goes through src/cli/terminal.ts, which passes it through printable(); `info` and `convert` are
// run on files whose strings hold escapes. And the CLI's own input files (ppl --text, convert's folder)
// are checked before they are read: a FIFO, /dev/zero, a file for a folder, each one line.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { printable } from '../../src/errors.js';
import { copyFixture, readAllSafetensors, writeSafetensors } from '../convert/helpers.js';
import { encodeWithHeader } from '../hardening/mutate.js';
import { convertFixture } from '../util/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'bimamba-terminal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An OSC sequence that sets the terminal's title, and a CSI one that clears the screen. */
const ESCAPES = '\u001b]0;pwned\u0007\u001b[2J\u009b31m';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function run(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('every CLI output path goes through printable()', () => {
  it('no module of src/cli but terminal.ts writes to stdout or stderr itself', () => {
    const dir = join(ROOT, 'src', 'cli');
    const direct = /process\.(stdout|stderr)\.write\(|console\.(log|error|warn|info|debug)\(/;
    const offenders: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      readFileSync(join(dir, file), 'utf8').split('\n').forEach((line, i) => {
        if (direct.test(line) && file !== 'terminal.ts') offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
    // and terminal.ts writes only what printable() returned (data into a pipe aside)
    const terminal = readFileSync(join(dir, 'terminal.ts'), 'utf8');
    const writes = terminal.split('\n').filter((l) => direct.test(l));
    expect(writes.length).toBe(4);
    for (const w of writes) expect(w).toMatch(/printable\(text\)/);
  });

  it('printable() escapes C0, C1, DEL and bidirectional overrides; oneLine also newlines', () => {
    expect(printable(`a${ESCAPES}\u202eb\n\tc`)).toBe('a\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u202eb\n\tc');
    expect(printable('a\nb\tc', true)).toBe('a\\u000ab\\u0009c');
  });

  it('info: a metadata "source" that is not JSON is printed escaped', async () => {
    const file = await convertFixture('mamba1-tiny-hf');
    const bytes = new Uint8Array(readFileSync(file));
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    header.__metadata__.source = `not json ${ESCAPES}\nfake line`;
    delete header.__metadata__.checksums; // the metadata changed: no checksums to contradict it
    const edited = join(tmp, 'escapes.bimamba');
    writeFileSync(edited, encodeWithHeader(header, bytes.subarray(8 + headerLength)));
    const r = await run(['info', edited, '--no-verify']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('converted from: not json \\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u000afake line');
  });

  it('convert: a tensor name with escapes is printed escaped in its warning', async () => {
    const dir = await copyFixture('mamba1-tiny-hf', join(tmp, 'ckpt'));
    const tensors = await readAllSafetensors(join(dir, 'model.safetensors'));
    tensors.push({ name: `extra${ESCAPES}\nwarning: fake`, dtype: 'F32', shape: [1], bytes: new Uint8Array(4) });
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const r = await run(['convert', dir, join(tmp, 'out.bimamba')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain('warning: ignoring tensor "extra\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u000awarning: fake"');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('warning: fake'))).toEqual([]);
  });
});

describe('the CLI input files', () => {
  /** One line on stderr, exit 1, in time. */
  function oneLineError(r: { code: number | null; stderr: string }, re: RegExp) {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  }

  it('ppl --text: /dev/zero and a FIFO are refused at once', async () => {
    oneLineError(await run(['ppl', '--text', '/dev/zero'], 20_000), /error \[BAD_ARGUMENT\]: \/dev\/zero is not a regular file/);
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    oneLineError(await run(['ppl', '--text', fifo], 20_000), /fifo is not a regular file/);
    oneLineError(await run(['ppl', '--text', join(tmp, 'missing.txt')], 20_000), /error \[IO\]: cannot read .*missing\.txt: no such file/);
    oneLineError(await run(['info', '/dev/zero'], 20_000), /\/dev\/zero is not a regular file/); // a model path too
  });

  it('convert: a file given as the folder, and a FIFO as a --tokenizer, are one clear line', async () => {
    const dir = await copyFixture('mamba1-tiny-hf', join(tmp, 'ckpt2'));
    oneLineError(await run(['convert', join(dir, 'model.safetensors'), join(tmp, 'x.bimamba')]), /model\.safetensors is a file, not a checkpoint directory/);
    const fifo = join(tmp, 'tok-fifo');
    execFileSync('mkfifo', [fifo]);
    oneLineError(await run(['convert', dir, join(tmp, 'x.bimamba'), '--tokenizer', fifo], 20_000), /tok-fifo \(the tokenizer\) is a FIFO/);
    oneLineError(await run(['convert', dir, join(dir, 'model.safetensors')]), /is an input of the conversion/);
  });
});
