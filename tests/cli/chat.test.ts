// `bimamba chat` and `bimamba eval` as users run them, in a real shell: a conversation piped in keeps its
// history in one session (each turn reads only its new tokens), /reset starts over, Ctrl-C (SIGINT) ends
// a reply and the chat goes on; eval scores a JSONL task file with acc and acc_norm.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function bimamba(args: string[], input: string, onStdout?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `exec "${process.execPath}" "${CLI}" "$@"`, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

describe('bimamba chat', () => {
  it('keeps the history in one session: a turn reads only its new tokens; /reset starts over', async () => {
    const r = await bimamba(['chat', '-t', '0', '-n', '8', '--stats'], 'Tell me about the king.\nAnd his sons?\n/reset\nTell me about the king.\n');
    expect(r.code, r.stderr).toBe(0);
    const reads = [...r.stderr.matchAll(/read (\d+) new tokens; (\d+) generated/g)].map((m) => Number(m[1]));
    expect(reads).toHaveLength(3);
    // turn 2 reads "And his sons?" and the template around it, not the conversation again
    expect(reads[1]).toBeLessThan(reads[0] + 8 + 4);
    expect(reads[2]).toBe(reads[0]); // after /reset, from the start
    const lines = r.stdout.split('\n').filter((l) => l && !l.startsWith('('));
    expect(lines[0]).toBe(lines[2]); // the same greedy reply from a fresh start
    expect(r.stdout).toContain('(the conversation starts over)');
  });

  it('Ctrl-C ends a reply and the chat goes on', async () => {
    let sent = false;
    const r = await bimamba(['chat', '-t', '0.8', '-s', '1', '-n', '100000', '--stats'], 'Tell me a very long story.\n', (out, child) => {
      if (!sent && out.length > 20) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/generated; abort/);
  });
});

describe('bimamba eval', () => {
  it('scores a JSONL task file with acc and acc_norm; a bad line is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bimamba-eval-'));
    const tasks = join(dir, 'tasks.jsonl');
    const items = [
      { context: 'The capital of France is', choices: [' Paris', ' a small blue teapot on the moon'], gold: 0 },
      { context: 'One, two, three,', choices: [' four', ' banana'], gold: 0 },
    ];
    writeFileSync(tasks, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
    const r = await bimamba(['eval', '--tasks', tasks, '--json'], '');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.n).toBe(2);
    expect(out.acc).toBeGreaterThanOrEqual(0);
    expect(out.acc).toBeLessThanOrEqual(1);
    writeFileSync(tasks, JSON.stringify(items[0]) + '\n{"context": "x", "choices": ["a"], "gold": 0}\n');
    const bad = await bimamba(['eval', '--tasks', tasks], '');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/line 2: needs "choices"/);
  });
});

describe('bimamba serve --chat-template', () => {
  it('refuses a template that does not parse before the model loads, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bimamba-serve-template-'));
    const file = join(dir, 'broken.jinja');
    writeFileSync(file, '{% for m in messages %}{{ m.content }}');
    const r = await bimamba(['serve', '--port', '0', '--chat-template', file], '');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/BAD_TEMPLATE.*broken\.jinja does not parse/);
    const missing = await bimamba(['chat', '--chat-template', join(dir, 'none.jinja')], '');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the chat template/);
  });
});
