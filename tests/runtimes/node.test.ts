// Node runs the Node example (examples/node): 'bimamba' resolves to this package through its own
// "exports", as it would from node_modules. Its text must be what the built package generates here.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from './hosts.js';
import { MAX_TOKENS, nodeGreedy, PROMPT, ROOT, tinyModel } from './model.js';

describe('Node', () => {
  let model: string;
  let expected: { tokens: number[]; text: string };
  beforeAll(async () => {
    model = await tinyModel();
    expected = await nodeGreedy(model);
  });

  it('generates 16 greedy tokens the same way twice', async () => {
    expect(expected.tokens.length).toBe(MAX_TOKENS);
    expect(await nodeGreedy(model)).toEqual(expected);
  });

  it('runs the Node example, printing the greedy text', async () => {
    const r = await run(process.execPath, [join(ROOT, 'examples', 'node', 'generate.mjs'), model, PROMPT, String(MAX_TOKENS)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected.text);
  });

  it('prints its usage when no model is given', async () => {
    const r = await run(process.execPath, [join(ROOT, 'examples', 'node', 'generate.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: node generate\.mjs MODEL\.bimamba/);
  });
});
