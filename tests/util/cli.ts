// The `bimamba` command as users run it, for the tests that drive it: the built bundle in a child Node
// process (npm test builds it first).
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliRun { stdout: string; stderr: string; code: number }

/** The command with `stdin` piped in (closed at once when empty, as `< /dev/null`). */
export function bimamba(args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    child.stdin.end(stdin);
  });
}

const execFileAsync = promisify(execFile);

/** The command through execFile (its stdin left open, output up to 16 MiB). */
export async function bimambaExec(...args: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { maxBuffer: 1 << 24 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}
