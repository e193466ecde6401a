// The `bimamba` command as users run it: the built bundle (npm test builds it first).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointDir } from '../util/fixtures.js';
import { bimambaExec as bimamba } from '../util/cli.js';

describe('bimamba CLI', () => {
  it('generate: greedy output with the built-in model is deterministic, starts with the prompt, reports tokens/s', async () => {
    const a = await bimamba('generate', '-n', '12', '-t', '0', 'The king said');
    const b = await bimamba('generate', '-n', '12', '-t', '0', 'The king said');
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith('The king said')).toBe(true);
    expect(a.stdout.length).toBeGreaterThan('The king said'.length + 12);
    expect(a.stderr).toMatch(/12 tokens, [\d.]+ tokens\/s/);
  });

  it('generate: --exact and --threads 1 give the same greedy text as the defaults; a bad --threads is refused', async () => {
    const fast = await bimamba('generate', '-n', '24', '-t', '0', '--no-stats', 'And the LORD said');
    const exact = await bimamba('generate', '-n', '24', '-t', '0', '--no-stats', '--exact', '--threads', '1', 'And the LORD said');
    expect(exact.code).toBe(0);
    expect(exact.stdout).toBe(fast.stdout);
    const bad = await bimamba('generate', '--threads', 'many', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/threads/);
  });

  it('generate: a seed makes sampling repeatable', async () => {
    const a = await bimamba('generate', '-n', '16', '-s', '3', '--no-stats', 'Once');
    const b = await bimamba('generate', '-n', '16', '-s', '3', '--no-stats', 'Once');
    const c = await bimamba('generate', '-n', '16', '-s', '4', '--no-stats', 'Once');
    expect(a.stdout).toBe(b.stdout);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('convert, then info, of a fixture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bimamba-cli-'));
    const out = join(dir, 'bi.bimamba');
    const c = await bimamba('convert', checkpointDir('bimamba-tiny'), out, '--head', 'f16');
    expect(c.code).toBe(0);
    const i = await bimamba('info', out);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/mamba2/);
    expect(i.stdout).toMatch(/layers\.0\.in_proj\.bits/);
  });

  it('ppl --json on a short text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bimamba-cli-'));
    const text = join(dir, 'text.txt');
    writeFileSync(text, 'And God said, Let there be light: and there was light. And God saw the light, that it was good.\n'.repeat(4));
    const r = await bimamba('ppl', '--text', text, '--window', '32', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.windows).toBe(Math.ceil(j.tokens / 32));
    expect(j.ppl).toBeGreaterThan(1);
    expect(j.ppl).toBeLessThan(4096);
    expect(Math.exp(j.nll)).toBeCloseTo(j.ppl, 6);
  });

  it('bad input is a one-line error, exit code 1 at run time and 2 for a usage mistake, not a stack trace', async () => {
    const missing = await bimamba('generate', '--model', join(tmpdir(), 'no-such-file.bimamba'), 'hi');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error/m);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const badFlag = await bimamba('generate', '-t', 'warm', 'hi');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/not a number/);
    const badTemp = await bimamba('generate', '-t', '-1', 'hi');
    expect(badTemp.code).toBe(2);
    expect(badTemp.stderr).toMatch(/temperature/);
  });
});
