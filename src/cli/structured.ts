// The structured-output flags of `bimamba generate`: --json-schema FILE, --grammar FILE, --json. The
// files are read and compiled before the model loads, so a bad schema or grammar fails at once.
import { BimambaError } from '../errors.js';
import { compileGrammar, grammarText, type StructuredOptions } from '../grammar/constraint.js';
import { readTextFile } from './files.js';
import { UsageError } from './options.js';

export async function readStructuredFlags(o: { jsonSchema?: string; grammar?: string; json?: boolean }): Promise<StructuredOptions> {
  const given = [o.jsonSchema !== undefined && '--json-schema', o.grammar !== undefined && '--grammar', o.json && '--json'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give at most one of --json-schema, --grammar and --json, not ${given.join(' and ')}`);
  let options: StructuredOptions = {};
  if (o.jsonSchema !== undefined) {
    const text = await readTextFile(o.jsonSchema);
    try {
      options = { jsonSchema: JSON.parse(text) as object };
    } catch (e) {
      throw new BimambaError('BAD_ARGUMENT', `${o.jsonSchema} is not JSON: ${(e as Error).message}`);
    }
  } else if (o.grammar !== undefined) {
    options = { grammar: await readTextFile(o.grammar) };
  } else if (o.json) {
    options = { json: true };
  }
  try {
    const text = grammarText(options);
    if (text !== null) compileGrammar(text);
  } catch (e) {
    if (e instanceof BimambaError) throw new BimambaError(e.code, `${o.jsonSchema ?? o.grammar ?? '--json'}: ${e.message}`);
    throw e;
  }
  return options;
}
