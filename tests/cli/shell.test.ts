// The `bimamba` command in a real shell, with the mistakes people make: each is one line on stderr with
// exit code 2 (usage) or 1 (run time), never a stack trace; pipes, stdin and Ctrl-C behave as in other tools.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATION_DEFAULTS } from '../../src/generate/defaults.js';
import { loadModel } from '../../src/model/model.js';
import { checkpointDir } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const MODEL = join(ROOT, 'models', 'default.bimamba');
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const tmp = mkdtempSync(join(tmpdir(), 'bimamba-shell-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a bash command line (`B` is the CLI), stdin closed unless the line pipes into it. */
function sh(line: string, timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `B() { "$NODE_BIN" "$CLI" "$@"; }; ${line}`], { cwd: ROOT, env: { ...process.env, NODE_BIN: process.execPath, CLI }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** One line on stderr, starting with "error", no stack trace. */
function oneLineError(r: Result, code: 1 | 2, re: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^error/);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('error paths: one line, exit 1 at run time', () => {
  it('serve: an unreachable --redis, a --sessions that is a file, a port in use', async () => {
    oneLineError(await sh('B serve --redis redis://127.0.0.1:1 --port 0', 30_000), 1, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    oneLineError(await sh(`B serve --sessions ${q(file)} --port 0`), 1, /--sessions .* is not a directory/);
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    try {
      oneLineError(await sh(`B serve --port ${port}`), 1, new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${port}: the address is in use`));
    } finally {
      busy.close();
    }
  });

  it('generate -m <directory>', async () => oneLineError(await sh(`B generate -m ${q(tmp)} hi`), 1, /is a directory, not a \.bimamba file/));

  it('info on a missing file', async () => oneLineError(await sh('B info nope.bimamba'), 1, /cannot read nope\.bimamba: no such file/));

  it('a text file given as a model: "not a .bimamba file"', async () => {
    oneLineError(await sh('B info README.md'), 1, /README\.md: not a \.bimamba file/);
    oneLineError(await sh('B generate -m README.md hi'), 1, /README\.md: not a \.bimamba file/);
  });

  it('an endless stdin (/dev/zero) for generate and tokenize ends with an error at the cap, not unbounded memory', async () => {
    oneLineError(await sh('B generate - < /dev/zero', 120_000), 1, /standard input is over 128 MiB/);
    oneLineError(await sh('B tokenize < /dev/zero', 120_000), 1, /standard input is over 128 MiB/);
  });

  it('ppl --text missing, a directory, or the model (swapped flags) fails at once, before loading', async () => {
    oneLineError(await sh('B ppl --text nope.txt'), 1, /cannot read nope\.txt: no such file/);
    oneLineError(await sh(`B ppl --text ${q(tmp)}`), 1, /is a directory, not a text file/);
    const t0 = performance.now();
    oneLineError(await sh(`B ppl --text ${q(MODEL)} --model README.md`), 1, /is not a text file.*meant for --model/);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('convert into a missing folder, or onto a directory', async () => {
    const ckpt = q(checkpointDir('bimamba-tiny'));
    oneLineError(await sh(`B convert ${ckpt} ${q(join(tmp, 'missing', 'x.bimamba'))}`), 1, /cannot write into .*missing: no such file/);
    oneLineError(await sh(`B convert ${ckpt} ${q(tmp)}`), 1, /is a directory; give the path of the \.bimamba file/);
  });
});

describe('usage mistakes: one line, exit 2, before anything loads', () => {
  it('sampling flags are checked before loading, naming the flag (the missing model is never reached)', async () => {
    for (const [flag, value] of [['--top-p', '2'], ['--temperature', '-1'], ['--top-k', '1.5'], ['--min-p', '1'], ['--repetition-penalty', '0'], ['-n', '-3'], ['-t', 'warm']]) {
      const r = await sh(`B generate -m nope.bimamba ${flag} ${value} hi`);
      oneLineError(r, 2, new RegExp(`option '[^']*${flag}[^']*' argument '${value}' is invalid`));
      expect(r.stdout).toBe(''); // the prompt is not printed either
    }
  });

  it('serve: a port outside 0-65535 or a count out of range is a usage error naming the flag, before loading', async () => {
    for (const [flag, value] of [['--port', '99999'], ['--port', '-1'], ['--max-active', '0'], ['--max-waiting', '-1'], ['--session-memory', '-5']]) {
      oneLineError(await sh(`B serve -m nope.bimamba ${flag} ${value}`), 2, new RegExp(`option '[^']*${flag}[^']*' argument '${value}' is invalid`));
    }
  });

  it('unknown commands and options, a missing argument, prompt given twice, an empty prompt', async () => {
    oneLineError(await sh('B bogus'), 2, /unknown command 'bogus'/);
    oneLineError(await sh('B generate --bogus hi'), 2, /unknown option '--bogus'/);
    oneLineError(await sh('B convert only-one'), 2, /missing required argument/);
    oneLineError(await sh('B generate -p one two'), 2, /either as arguments or with -p/);
    oneLineError(await sh('B generate - < /dev/null'), 2, /prompt read from stdin is empty/);
    oneLineError(await sh(`B generate ''`), 2, /the prompt is empty/);
  });

  it('--threads above the core count is cut to it, with a warning', async () => {
    const cores = availableParallelism();
    const r = await sh(`B generate --threads ${cores + 8} -n 3 -t 0 --no-stats hi`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: --threads ${cores + 8} is more than the ${cores} cores of this machine; using ${cores}\n`);
  });
});

describe('in a pipeline', () => {
  it('`generate | head -1` ends quietly when head closes the pipe (no EPIPE)', async () => {
    const r = await sh('B generate -n 400 -s 1 --no-stats "Once upon a time" | head -1; echo "status ${PIPESTATUS[0]}" >&2');
    expect(r.stderr).toBe('status 0\n');
    expect(r.stdout.split('\n')).toHaveLength(2); // one line and its newline
  });

  it('the prompt comes from stdin when none is given, or when it is "-"', async () => {
    const direct = await sh('B generate -n 6 -t 0 --no-stats "In the beginning"');
    expect(direct.code).toBe(0);
    expect((await sh('echo "In the beginning" | B generate -n 6 -t 0 --no-stats')).stdout).toBe(direct.stdout);
    expect((await sh('printf "In the beginning" | B generate -n 6 -t 0 --no-stats -')).stdout).toBe(direct.stdout);
    expect((await sh('B generate -n 6 -t 0 --no-stats -p "In the beginning"')).stdout).toBe(direct.stdout);
    // nothing on stdin and no prompt: the sample prompt, as in a terminal
    expect((await sh('B generate -n 6 -t 0 --no-stats < /dev/null')).stdout).toBe((await sh('B generate -n 6 -t 0 --no-stats "The history of the world"')).stdout);
  });

  it('Ctrl-C ends the generation with the stats line and exit code 130, not an error', async () => {
    const child = spawn(process.execPath, [CLI, 'generate', '-n', '100000', '-s', '1', 'Once'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.length > 40) resolve(); // generating by now
      });
    });
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(130);
    expect(stderr).toMatch(/^\[\d+ tokens, [\d.]+ tokens\/s decoding, .*ended: abort\]\n$/);
    expect(stdout.endsWith('\n')).toBe(true);
  });
});

describe('flags', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const r = await sh('B --version');
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('--stop takes one value and repeats; -e reads escapes in the prompt and stop strings', async () => {
    const free = (await sh('B generate -n 40 -t 0 --no-stats "And God said"')).stdout;
    const [a, b] = [free.slice(20, 23), free.slice(30, 33)];
    const r = await sh(`B generate -n 40 -t 0 --no-stats --stop ${q(b)} --stop ${q(a)} "And God said"`);
    expect(r.stdout).toBe(free.slice(0, free.indexOf(a)) + '\n'); // the prompt is not taken as a stop string
    const e = await sh(`B generate -e -n 40 -t 0 --no-stats --stop '\\n' 'And God said\\t'`);
    expect(e.stdout.startsWith('And God said\t')).toBe(true);
    expect(e.stdout.indexOf('\n')).toBe(e.stdout.length - 1); // stopped at the first newline it generated
    expect((await sh(`B generate -n 3 -t 0 --no-stats 'a\\tb'`)).stdout.startsWith('a\\tb')).toBe(true); // no -e: as written
  });

  it('--help shows the one set of defaults', async () => {
    const help = (await sh('B generate --help')).stdout.replace(/\s+/g, ' '); // commander wraps long lines
    const D = GENERATION_DEFAULTS;
    for (const [flag, v] of [['--max-tokens', D.maxTokens], ['--temperature', D.temperature], ['--top-k', D.topK], ['--top-p', D.topP], ['--min-p', D.minP], ['--repetition-penalty', D.repetitionPenalty]] as const) {
      expect(help).toMatch(new RegExp(`${flag} <\\w+> [^-]*\\(default: ${v}\\)`));
    }
  });

  it('info and ppl default to the built-in model; info prints the summary before the tensor list', async () => {
    const r = await sh('B info');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(the built-in model\): \.bimamba v1/);
    expect(r.stdout.indexOf('equivalent fp16 checkpoint')).toBeLessThan(r.stdout.indexOf('\ntensors:'));
    expect(r.stdout.indexOf('checksums: verified')).toBeLessThan(r.stdout.indexOf('\ntensors:'));
    const text = join(tmp, 'text.txt');
    writeFileSync(text, 'And God said, Let there be light: and there was light.\n'.repeat(3));
    const p = await sh(`B ppl --text ${q(text)} --window 16 --json`);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).model).toBe('built-in');
  });
});

describe('the CLI and the library agree', () => {
  it('the same prompt, seed and options give the same text (the CLI and the library share their defaults)', async () => {
    const model = await loadModel(undefined, { wasm: WASM });
    try {
      for (const [flags, options] of [
        ['-s 7', { seed: 7 }],
        ['-s 3 -t 0', { seed: 3, temperature: 0 }],
        ['-s 11 --top-k 5 --repetition-penalty 1.3', { seed: 11, topK: 5, repetitionPenalty: 1.3 }],
      ] as const) {
        const cli = await sh(`B generate -n 24 --no-stats ${flags} "The history of"`);
        const lib = await model.complete('The history of', { maxTokens: 24, ...options });
        expect(cli.stdout).toBe(`The history of${lib.text}\n`);
      }
    } finally {
      model.dispose();
    }
  });
});
