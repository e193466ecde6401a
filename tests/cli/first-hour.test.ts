// What a newcomer meets in the CLI, as the built command in a real child process: a model file without a
// tokenizer runs on token ids (--ids) or with one given at generate time (--tokenizer); -t follows the
// server's rule; tokenize's --decode ends its line and its --help names only what it reads; an empty stdin
// is said to give the sample prompt; `serve` names its model `default` whatever the file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TEMPERATURE } from '../../src/generate/defaults.js';
import { startServe, type Served } from '../server/serve.js';
import { loadModel } from '../../src/model/model.js';
import { byteTokenizerJson, convertFixture } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';
import { bimamba } from '../util/cli.js';

let dir = '';
let bare = ''; // a model file without a tokenizer
let withTokenizer = ''; // the same model, its tokenizer inside
let tokenizer = ''; // that tokenizer as a file
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bimamba-first-hour-'));
  tokenizer = join(dir, 'tokenizer.json');
  writeFileSync(tokenizer, byteTokenizerJson());
  bare = await convertFixture('bimamba-tiny');
  withTokenizer = await convertFixture('bimamba-tiny', { tokenizer });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a model file without a tokenizer', () => {
  it('generate --ids runs it and prints the token ids it generates', async () => {
    const r = await bimamba(['generate', '-m', bare, '--ids', '72,101 108', '-n', '6', '-t', '0', '--no-stats']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+( \d+){5}\n$/);
    // the ids the library generates for that prompt
    const model = await loadModel(bare, { wasm: WASM });
    const expected = (await model.complete([72, 101, 108], { maxTokens: 6, temperature: 0 })).tokens;
    model.dispose();
    expect(r.stdout).toBe(expected.join(' ') + '\n');
    // a model with a tokenizer takes --ids too, and prints text
    const text = await bimamba(['generate', '-m', withTokenizer, '--ids', '72,101,108', '-n', '6', '-t', '0', '--no-stats']);
    expect(text.code).toBe(0);
    expect(text.stdout.startsWith('Hel')).toBe(true);
  });

  it('a text prompt says what to do instead', async () => {
    const r = await bimamba(['generate', '-m', bare, 'Hello']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no tokenizer.*--ids 1,2,3.*--tokenizer tokenizer\.json/);
    const stop = await bimamba(['generate', '-m', bare, '--ids', '1', '--stop', 'x']);
    expect(stop.stderr).toMatch(/--stop needs text/);
  });

  it('--tokenizer at generate time gives the text of the file that holds it', async () => {
    const given = await bimamba(['generate', '-m', bare, '--tokenizer', tokenizer, '-n', '12', '-t', '0', '--no-stats', 'Hello']);
    const inside = await bimamba(['generate', '-m', withTokenizer, '-n', '12', '-t', '0', '--no-stats', 'Hello']);
    expect(given.stderr).toBe('');
    expect(given.stdout).toBe(inside.stdout);
    expect(given.stdout.startsWith('Hello')).toBe(true);
    const wrong = await bimamba(['generate', '-m', bare, '--tokenizer', bare, 'Hello']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/--tokenizer .*tiny/);
  });

  it('bad --ids are usage errors, before the model loads', async () => {
    for (const [ids, message] of [['1,x', /'x' is not a token id/], ['', /no token ids/], ['-3', /'-3' is not a token id/]] as const) {
      const r = await bimamba(['generate', '-m', bare, `--ids=${ids}`]);
      expect(r.code, ids).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect((await bimamba(['generate', '-m', bare, '--ids', '1', 'text'])).stderr).toMatch(/not both/);
  });
});

describe('generate', () => {
  it(`takes -t up to ${MAX_TEMPERATURE}, as the server does, and refuses more`, async () => {
    const hot = await bimamba(['generate', '-m', withTokenizer, '-t', '5', 'x']);
    expect(hot.code).toBe(2);
    expect(hot.stderr).toMatch(/-t, --temperature.*\[0, 2\]/);
    const top = await bimamba(['generate', '-m', withTokenizer, '-t', String(MAX_TEMPERATURE), '-n', '2', '--no-stats', 'x']);
    expect(top.code).toBe(0);
  });

  it('says so when an empty stdin leaves it the sample prompt', async () => {
    const r = await bimamba(['generate', '-m', withTokenizer, '-n', '2', '--no-stats']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stdin is empty: using the sample prompt "The history of the world"/);
    expect(r.stdout.startsWith('The history of the world')).toBe(true);
  });
});

describe('tokenize', () => {
  it('--decode ends its output with a newline', async () => {
    const r = await bimamba(['tokenize', '-m', withTokenizer, '--decode', '72 105']);
    expect(r.stdout).toBe('Hi\n');
  });

  it("reads the tokenizer from --tokenizer or the model's header; --help lists no flag it ignores", async () => {
    expect((await bimamba(['tokenize', '--tokenizer', tokenizer, 'Hi'])).stdout).toBe('[72,105]\n');
    const none = await bimamba(['tokenize', '-m', bare, 'Hi']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no tokenizer: give one with --tokenizer/);
    const help = (await bimamba(['tokenize', '--help'])).stdout;
    expect(help).toMatch(/--model/);
    expect(help).toMatch(/--tokenizer/);
    for (const ignored of ['--threads', '--exact', '--state-type', '--no-verify']) expect(help).not.toContain(ignored);
  });
});

describe('serve', () => {
  let served: Served | undefined;
  afterAll(() => served?.stop());
  it("names the model 'default' whatever the file, as createApp does", async () => {
    served = await startServe(['--model', withTokenizer]);
    const models = (await (await fetch(`${served.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['default']);
  });
});
