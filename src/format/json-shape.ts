// A scan of JSON text before JSON.parse, for text from a file: JSON.parse itself has no limits, and
// 100 MB of nested brackets ("[[[[...") cost it tens of seconds and gigabytes. The scan counts
// brackets and commas outside strings in one pass, without building anything.
import { badFormat } from '../errors.js';

/** Deepest nesting of arrays and objects accepted in any JSON from a file (the formats need under 10). */
export const MAX_JSON_DEPTH = 64;

export interface JsonShapeLimits {
  maxDepth?: number;
  /** Most arrays and objects in all. */
  maxContainers?: number;
  /** Most values in all (about the commas plus one). */
  maxValues?: number;
  /**
   * Read the text as JSON5 (config.json, which Python writes with bare `Infinity`): strings in single
   * quotes too, and comments, are skipped, so that brackets inside them neither count nor hide others.
   */
  json5?: boolean;
}

/** Throw BAD_FORMAT (naming `where`) when `text` nests deeper or holds more than the limits allow. */
export function checkJsonShape(text: string, where: string, limits: JsonShapeLimits = {}): void {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  const maxContainers = limits.maxContainers ?? Infinity;
  const maxValues = limits.maxValues ?? Infinity;
  let depth = 0;
  let containers = 0;
  let values = 1;
  const json5 = limits.json5 ?? false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || (json5 && c === 0x27)) {
      // a string: skip to its closing quote (the same kind), past escapes
      for (i++; i < text.length && text.charCodeAt(i) !== c; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (json5 && c === 0x2f && text.charCodeAt(i + 1) === 0x2f) {
      while (i < text.length && text.charCodeAt(i) !== 0x0a) i++; // a line comment
    } else if (json5 && c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const end = text.indexOf('*/', i + 2); // a block comment
      i = end < 0 ? text.length : end + 1;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw badFormat(where, `JSON nested more than ${maxDepth} levels deep`);
      if (++containers > maxContainers) throw badFormat(where, `more than ${maxContainers} JSON arrays and objects`);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c) {
      if (++values > maxValues) throw badFormat(where, `more than ${maxValues} JSON values`);
    }
  }
}
