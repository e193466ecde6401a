// docs/server-clients.md as a user runs it: its snippet, taken from the page, type-checks under `strict`
// against the installed `openai` package and runs against `bimamba serve`; its three ways of naming a
// session (the header per request, defaultHeaders, a typed body field) continue one story, the text of
// one library session. The plain field in a literal does not compile, which is why the page exists.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../runtimes/hosts.js';
import { ROOT } from '../runtimes/model.js';
import { DEFAULT_MODEL, libraryConversation, startServe, type Served } from './serve.js';

const PAGE = join(ROOT, 'docs', 'server-clients.md');
// inside the project (ignored, and outside what its tsconfig.json includes), so that `openai` and
// @types/node resolve from its node_modules
const DIR = join(ROOT, '.cache', 'server-clients');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const COMPILER = ['--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', '--skipLibCheck', 'false'];

/** The page's one TypeScript snippet. */
function snippet(): string {
  const blocks = [...readFileSync(PAGE, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(1);
  return blocks[0];
}

/** tsc over one file in DIR; returns what it printed (nothing: it compiled) and emits `name`.js beside it. */
async function compile(name: string, source: string): Promise<string> {
  writeFileSync(join(DIR, `${name}.mts`), source);
  const r = await run(process.execPath, [TSC, ...COMPILER, '--outDir', DIR, join(DIR, `${name}.mts`)], { cwd: DIR, timeoutMs: 120_000 });
  return r.stdout + r.stderr;
}

describe('docs/server-clients.md', () => {
  let served: Served;
  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    served = await startServe([]);
  });
  afterAll(async () => {
    await served?.stop();
    rmSync(DIR, { recursive: true, force: true });
  });

  it("the plain `session` field does not compile with openai's types", async () => {
    const plain = `import OpenAI from 'openai';\nconst openai = new OpenAI({ apiKey: 'unused' });\nawait openai.completions.create({ model: 'default', prompt: 'x', session: 'story-1' });\n`;
    expect(await compile('plain', plain)).toMatch(/'session' does not exist in type 'CompletionCreateParamsNonStreaming'/);
  });

  it('its snippet type-checks under strict and its three ways continue one session', async () => {
    expect(await compile('snippet', snippet())).toBe('');
    const r = await run(process.execPath, [join(DIR, 'snippet.mjs')], { cwd: DIR, env: { ...process.env, OPENAI_BASE_URL: `${served.url}/v1` }, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const texts = JSON.parse(r.stdout) as string[];
    const expected = await libraryConversation(DEFAULT_MODEL, [
      { prompt: 'Once upon a time', maxTokens: 12 },
      { prompt: ' Then the queen', maxTokens: 12 },
      { prompt: ' At last', maxTokens: 12 },
    ]);
    expect(texts).toEqual(expected);
    // and not what three fresh sessions write (the session did carry over)
    const fresh = await libraryConversation(DEFAULT_MODEL, [{ prompt: ' At last', maxTokens: 12 }]);
    expect(texts[2]).not.toBe(fresh[0]);
  });
});
