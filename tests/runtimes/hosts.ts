// What the runtime tests need around the runtimes themselves: finding each binary, free loopback
// ports, child processes that always end, and the rule for a missing runtime (skip here, fail in CI).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The Deno binary the `deno` dev dependency ships, or null. */
export function denoBinary(): string | null {
  try {
    const api = require('deno/install_api.cjs') as { runInstall(): string };
    return api.runInstall();
  } catch {
    return null;
  }
}

/** The workerd binary the `workerd` dev dependency ships, or null. */
export function workerdBinary(): string | null {
  try {
    const path = (require('workerd') as { default: string }).default;
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** The Bun binary the `bun` dev dependency ships, or null. */
export function bunBinary(): string | null {
  try {
    const path = join(dirname(require.resolve('bun/package.json')), 'bin', 'bun.exe');
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** Debian's chromium, or null. */
export function chromiumBinary(): string | null {
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

/**
 * Whether to run a runtime's tests. A runtime missing on a developer's machine skips them with a
 * message; in CI (CI=true) they run anyway and fail, so a broken install never passes as a skip.
 */
export function shouldRun(runtime: string, binary: string | null, howToGet: string): boolean {
  if (binary) return true;
  if (process.env.CI) return true;
  console.warn(`skipping the ${runtime} tests: ${runtime} is not installed (${howToGet})`);
  return false;
}

/** The binary, or a clear failure naming what is missing (in CI, where the tests run regardless). */
export function need(runtime: string, binary: string | null, howToGet: string): string {
  if (!binary) throw new Error(`${runtime} is missing: ${howToGet}`);
  return binary;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to its end (killed after `timeoutMs`), collecting its output. */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running child (a server): its output so far, and a stop() that always ends it. */
export interface Service {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `group`: the child leads a process group and stop() ends the whole group (wrangler starts workerd). */
export function startService(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean } = {}): Service {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.group ?? false });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (options.group) process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL'); // workerd with an inspector attached ignores SIGTERM
      await exited;
    },
  };
}

/** Wait until `port` on 127.0.0.1 accepts connections, or fail after `timeoutMs` with the service's output. */
export async function waitForPort(port: number, service: Service, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (service.child.exitCode !== null) throw new Error(`the server exited early:\n${service.output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => done(true)).once('error', () => done(false));
      socket.setTimeout(1000, () => done(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms:\n${service.output()}`);
}
