// The chat template a converted model keeps: `--chat-template FILE`, else the checkpoint's
// tokenizer_config.json `chat_template` (a string, or a list of named templates: the one named
// "default"). It must parse, so a broken template fails the conversion, not a later chat.
import { readFile } from 'node:fs/promises';
import { ChatTemplate } from '../chat/template.js';
import { BimambaError } from '../errors.js';

export async function chatTemplateFor(file: string | undefined, tokenizerConfig: Record<string, unknown> | null): Promise<string | null> {
  let source: unknown;
  let where: string;
  if (file !== undefined) {
    where = file;
    try {
      source = await readFile(file, 'utf8');
    } catch (e) {
      throw new BimambaError('BAD_ARGUMENT', `cannot read the chat template ${file}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    where = "tokenizer_config.json's chat_template";
    source = tokenizerConfig?.chat_template;
    if (Array.isArray(source)) source = source.find((t) => t && typeof t === 'object' && t.name === 'default')?.template;
    if (source === undefined || source === null) return null;
  }
  if (typeof source !== 'string' || source === '') throw new BimambaError('BAD_CHECKPOINT', `${where} is not a template (a non-empty string)`);
  new ChatTemplate(source, where); // throws BAD_TEMPLATE naming `where` when it does not parse
  return source;
}
