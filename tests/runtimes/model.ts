// The model every runtime smoke test loads: the bimamba-tiny fixture converted with an embedded
// byte-level tokenizer, written once into tests/out/ (ignored), and Node's greedy tokens for it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { byteTokenizerJson, convertFixture } from '../util/fixtures.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const OUT = join(ROOT, 'tests', 'out', 'runtimes');
export const TINY_MODEL = join(OUT, 'tiny.bimamba');

/** The prompt and settings every runtime runs: 16 tokens, greedy. */
export const PROMPT = 'The history of';
export const MAX_TOKENS = 16;

let converted: Promise<string> | null = null;

/**
 * Convert the fixture into tests/out/runtimes/tiny.bimamba, once per test process, so the file always
 * comes from the current converter.
 */
export function tinyModel(): Promise<string> {
  converted ??= (async () => {
    mkdirSync(OUT, { recursive: true });
    const tokenizer = join(tmpdir(), `bimamba-runtimes-tokenizer-${process.pid}.json`);
    writeFileSync(tokenizer, byteTokenizerJson());
    const path = await convertFixture('bimamba-tiny', { tokenizer });
    const staged = `${TINY_MODEL}.${process.pid}.tmp`;
    copyFileSync(path, staged);
    rmSync(path);
    renameSync(staged, TINY_MODEL); // atomic: a runtime reading the previous file keeps reading it whole
    return TINY_MODEL;
  })();
  return converted;
}

export const DIST = join(ROOT, 'dist');
/** The Worker build (the `workerd` export condition): no `node:` imports. */
export const WORKER_DIST = join(DIST, 'worker');

/** The chunks these entries of `dir` import, directly or through each other ('./index2.js', ...). */
export function bundleChunks(dir: string, ...entries: string[]): string[] {
  const found: string[] = [];
  const visit = (file: string) => {
    for (const [, name] of readFileSync(join(dir, file), 'utf8').matchAll(/from '\.\/([\w-]+\.js)'/g)) {
      if (!found.includes(name) && !entries.includes(name)) {
        found.push(name);
        visit(name);
      }
    }
  };
  entries.forEach(visit);
  return found;
}

/** What the built package (dist/index.js) generates in this Node process: the reference for every runtime. */
export async function nodeGreedy(modelPath: string): Promise<{ tokens: number[]; text: string }> {
  if (!existsSync(join(DIST, 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first');
  const { loadModel } = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../../src/index.js');
  const model = await loadModel(modelPath);
  try {
    const tokens: number[] = [];
    let text = '';
    for await (const t of model.generate(PROMPT, { maxTokens: MAX_TOKENS, temperature: 0 })) {
      tokens.push(t.token);
      text += t.text;
    }
    return { tokens, text };
  } finally {
    model.dispose();
  }
}
