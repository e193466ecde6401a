// Deno 2 runs the built package: the Deno example (examples/deno, 'bimamba' mapped to dist/ by its
// deno.json) and a direct import of dist/index.js. Both must produce Node's greedy tokens.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { denoBinary, need, run, shouldRun } from './hosts.js';
import { DIST, MAX_TOKENS, nodeGreedy, PROMPT, ROOT, tinyModel } from './model.js';

const DENO = denoBinary();
const HOW = 'the deno dev dependency: npm ci';
const EXAMPLE = join(ROOT, 'examples', 'deno');

// Token ids, as JSON, from the built bundle imported by Deno.
const SMOKE = `
import { loadModel } from ${JSON.stringify(join(DIST, 'index.js'))};
const model = await loadModel(Deno.args[0]);
const tokens = [];
for await (const { token } of model.generate(Deno.args[1], { maxTokens: Number(Deno.args[2]), temperature: 0 })) tokens.push(token);
model.dispose();
console.log(JSON.stringify({ tokens, deno: Deno.version.deno }));
`;

describe.runIf(shouldRun('Deno', DENO, HOW))('Deno', () => {
  let model: string;
  let expected: { tokens: number[]; text: string };
  beforeAll(async () => {
    model = await tinyModel();
    expected = await nodeGreedy(model);
  });

  it('generates the same greedy tokens as Node from the built package', async () => {
    const r = await run(need('Deno', DENO, HOW), ['eval', '--ext=js', SMOKE, model, PROMPT, String(MAX_TOKENS)], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.deno).toMatch(/^2\./);
    expect(out.tokens).toEqual(expected.tokens);
  });

  it('runs the Deno example, printing the same text as Node', async () => {
    const r = await run(need('Deno', DENO, HOW), ['run', '--allow-read', 'generate.ts', model, PROMPT, String(MAX_TOKENS)], { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected.text);
  });

  it('asks for read permission instead of reading the model without it', async () => {
    const r = await run(need('Deno', DENO, HOW), ['run', '--no-prompt', 'generate.ts', model], { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/NotCapable|PermissionDenied|Requires read access/);
  });
});
