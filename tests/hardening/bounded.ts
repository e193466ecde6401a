// Runs a script in a child process with a small JS heap (--max-old-space-size) and a timeout, so an
// input that blows up time or memory fails a test instead of taking the test runner down with it.
import { spawnSync } from 'node:child_process';

export interface BoundedRun {
  /** The exit status (null when the child was killed: a timeout or a fatal out-of-memory). */
  status: number | null;
  timedOut: boolean;
  ms: number;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON, when it is JSON. */
  result: Record<string, unknown> | null;
}

export function runBounded(script: string, args: string[], limits: { heapMb: number; timeoutMs: number }): BoundedRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${limits.heapMb}`, '--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    timeout: limits.timeoutMs,
    killSignal: 'SIGKILL',
  });
  const ms = performance.now() - t0;
  let result: Record<string, unknown> | null = null;
  try {
    result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    result = null;
  }
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return { status: r.status, timedOut, ms, stdout: r.stdout, stderr: r.stderr.slice(-2000), result };
}
