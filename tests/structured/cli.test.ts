// `bimamba generate --json-schema FILE / --grammar FILE / --json` as users run it (the built bundle).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from './schemas.js';
import { validate } from './validate.js';
import { bimambaExec as bimamba } from '../util/cli.js';

const GRAMMARS = fileURLToPath(new URL('./grammars/', import.meta.url));

describe('bimamba generate, structured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bimamba-structured-'));
  const schemaFile = join(dir, 'person.json');
  writeFileSync(schemaFile, JSON.stringify(SCHEMAS.person));

  it('--json-schema FILE: the output after the prompt validates, and the stats line says it ended as stop', async () => {
    for (const seed of ['1', '2', '3']) {
      const r = await bimamba('generate', '--json-schema', schemaFile, '-s', seed, '-t', '1', '-n', '300', 'Person: ');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.startsWith('Person: ')).toBe(true);
      const json = r.stdout.slice('Person: '.length, -1); // the prompt, the output, a newline
      expect(validate(SCHEMAS.person, JSON.parse(json)), json).toEqual([]);
      expect(r.stderr).toMatch(/ended: (stop|eos)\]/);
    }
  });

  it('--grammar FILE and --json', async () => {
    const g = await bimamba('generate', '--grammar', join(GRAMMARS, 'list.gbnf'), '-s', '4', '-t', '1', '--no-stats', 'List:\n');
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout.slice('List:\n'.length, -1)).toMatch(/^(?:- [A-Za-z][a-z ,]{0,30}\n){1,5}$/);
    const j = await bimamba('generate', '--json', '-s', '5', '-t', '1', '-n', '300', '--no-stats', 'Data: ');
    expect(j.code, j.stderr).toBe(0);
    expect(() => JSON.parse(j.stdout.slice('Data: '.length, -1))).not.toThrow();
  });

  it('refuses bad files and flags before the model loads, naming the file and the place', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } }));
    let r = await bimamba('generate', '--json-schema', bad, 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: json schema: the keyword "uniqueItems" is not supported at /properties/tags/uniqueItems`);
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ type: object }');
    r = await bimamba('generate', '--json-schema', notJson, 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${notJson} is not JSON`);
    const gbnf = join(dir, 'bad.gbnf');
    writeFileSync(gbnf, 'root ::= item\nitem ::= item "a"\n');
    r = await bimamba('generate', '--grammar', gbnf, 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/left recursion: the rule "item" \(defined at line 2, column 1\)/);
    r = await bimamba('generate', '--grammar', join(dir, 'missing.gbnf'), 'x');
    expect(r.stderr).toMatch(/cannot read .*missing\.gbnf: no such file/);
    r = await bimamba('generate', '--grammar', gbnf, '--json', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at most one of --json-schema, --grammar and --json/);
  });
});
