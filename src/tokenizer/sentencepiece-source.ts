// Where a SentencePiece model can come from: the tokenizer.model file's bytes, or the JSON form a
// .bimamba file embeds it in, `{"sentencepiece": "<base64 of tokenizer.model>"}` (src/format/FORMAT.md).
// Everything else is left to the tokenizer.json path.
import { BimambaError } from '../errors.js';

const KEY = 'sentencepiece';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The embedded JSON text for a tokenizer.model's bytes. */
export function embedSentencePiece(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + (i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? ALPHABET[n & 63] : '=');
  }
  return JSON.stringify({ [KEY]: out });
}

function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new BimambaError('BAD_FORMAT', `tokenizer: "${KEY}" is not base64`);
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const n = (ALPHABET.indexOf(text[i]) << 18) | (ALPHABET.indexOf(text[i + 1]) << 12) | (Math.max(0, ALPHABET.indexOf(text[i + 2])) << 6) | Math.max(0, ALPHABET.indexOf(text[i + 3]));
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Whether bytes start like JSON text: '{' after optional whitespace or a UTF-8 BOM. */
function looksLikeJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && i < 64 && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b;
}

/**
 * What a tokenizer argument is: a SentencePiece model's bytes, or tokenizer.json text / object.
 * Bytes are a tokenizer.json when they start like JSON text, a tokenizer.model otherwise (a protobuf
 * ModelProto starts with its first piece: byte 0x0A, then the piece's length).
 */
export function classifyTokenizerSource(source: unknown): { sentencepiece: Uint8Array } | { json: string | object } {
  let value = source;
  if (value instanceof ArrayBuffer) value = new Uint8Array(value);
  if (value instanceof Uint8Array) {
    if (looksLikeJson(value)) value = new TextDecoder().decode(value);
    else return { sentencepiece: value };
  }
  if (typeof value === 'string') {
    if (/^\s*\{\s*"sentencepiece"\s*:/.test(value.slice(0, 64))) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch (e) {
        throw new BimambaError('BAD_FORMAT', `tokenizer: not valid JSON (${(e as Error).message})`);
      }
      return fromEmbedded(parsed as Record<string, unknown>);
    }
    return { json: value };
  }
  if (typeof value === 'object' && value !== null && KEY in value) return fromEmbedded(value as Record<string, unknown>);
  return { json: value as object };
}

function fromEmbedded(o: Record<string, unknown>): { sentencepiece: Uint8Array } {
  if (typeof o[KEY] !== 'string') throw new BimambaError('BAD_FORMAT', `tokenizer: "${KEY}" must be a base64 string`);
  return { sentencepiece: fromBase64(o[KEY] as string) };
}
