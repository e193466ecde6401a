// The chat template a converted model keeps: tokenizer_config.json's chat_template (a string or the
// list entry named "default") or --chat-template FILE, in the CRC-covered metadata; the loaded model
// and `bimamba info` name it; a template that does not parse fails the conversion, naming the file.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInfo } from '../../src/cli/info.js';
import { convertCheckpoint } from '../../src/convert/convert.js';
import { readBimambaFileHeader, verifyBimambaFile } from '../../src/format/bimamba.js';
import { loadModel } from '../../src/model/model.js';
import { rejection } from '../util/errors.js';
import { checkpointDir, tokenizerPath } from '../util/fixtures.js';
import { WASM } from '../util/wasm.js';

const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/** The tiny Bi-Mamba checkpoint with a tokenizer and, if given, a tokenizer_config.json. */
function checkpointWith(tokenizerConfig?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'bimamba-chat-template-'));
  for (const f of readdirSync(checkpointDir('bimamba-tiny'))) copyFileSync(join(checkpointDir('bimamba-tiny'), f), join(dir, f));
  copyFileSync(tokenizerPath('gpt-neox-20b'), join(dir, 'tokenizer.json'));
  if (tokenizerConfig !== undefined) writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return dir;
}

describe('convert: chat_template', () => {
  it("stores tokenizer_config.json's template, CRC-covered; the model and info name it", async () => {
    const dir = checkpointWith({ chat_template: CHATML });
    const out = join(dir, 'out.bimamba');
    await convertCheckpoint(dir, out, { onWarning: () => {} });
    const { header, fileBytes } = await readBimambaFileHeader(out);
    expect(header.metadata.chat_template).toBe(CHATML);
    await verifyBimambaFile(out); // the metadata CRC covers it
    expect(formatInfo(out, header, fileBytes, false)).toMatch(/chat template: the file's own/);
    const model = await loadModel(out, { wasm: WASM });
    expect(model.chatTemplate).toBe(CHATML);
    model.dispose();
  });

  it('takes the "default" entry of a list, --chat-template FILE over it, and says when there is none', async () => {
    const dir = checkpointWith({ chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template: CHATML }] });
    const out = join(dir, 'a.bimamba');
    await convertCheckpoint(dir, out, { onWarning: () => {} });
    expect((await readBimambaFileHeader(out)).header.metadata.chat_template).toBe(CHATML);
    const file = join(dir, 'mine.jinja');
    writeFileSync(file, '{{ messages[0].content }}');
    const out2 = join(dir, 'b.bimamba');
    await convertCheckpoint(dir, out2, { onWarning: () => {}, chatTemplate: file });
    expect((await readBimambaFileHeader(out2)).header.metadata.chat_template).toBe('{{ messages[0].content }}');
    const none = checkpointWith();
    const out3 = join(none, 'c.bimamba');
    await convertCheckpoint(none, out3, { onWarning: () => {} });
    const h = await readBimambaFileHeader(out3);
    expect(h.header.metadata.chat_template).toBeUndefined();
    expect(formatInfo(out3, h.header, h.fileBytes, false)).toMatch(/chat template: none in the file: chat uses the default template/);
  });

  it('refuses a template that does not parse, naming where it came from, before writing', async () => {
    const dir = checkpointWith({ chat_template: '{% for m in messages %}' });
    const e = await rejection(convertCheckpoint(dir, join(dir, 'x.bimamba'), { onWarning: () => {} }));
    expect(e.code).toBe('BAD_TEMPLATE');
    expect(e.message).toMatch(/tokenizer_config.json's chat_template does not parse/);
    mkdirSync(join(dir, 'sub'));
    const missing = await rejection(convertCheckpoint(checkpointWith(), join(dir, 'y.bimamba'), { onWarning: () => {}, chatTemplate: join(dir, 'nope.jinja') }));
    expect(missing.code).toBe('BAD_ARGUMENT');
    expect(readdirSync(dir)).not.toContain('x.bimamba');
  });
});
