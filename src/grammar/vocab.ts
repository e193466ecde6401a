// The vocabulary as bytes, in a trie: what each token appends to the text, and one walk over all tokens
// that share a prefix (so a state's allowed tokens cost one pass over the trie, not one per token).
import type { Tokenizer } from '../tokenizer/index.js';

export interface TokenTrie {
  /** The UTF-8 bytes each token id appends (null: none, as special tokens, which a grammar never allows). */
  bytes: (Uint8Array | null)[];
  /** Per node, its children: edges [edgeStart[n], edgeStart[n + 1]). */
  edgeStart: Int32Array;
  edgeByte: Uint8Array;
  edgeChild: Int32Array;
  /** Per node, the tokens that end there: tokenIds[tokenStart[n], tokenStart[n + 1]). */
  tokenStart: Int32Array;
  tokenIds: Int32Array;
}

/** GPT-2's byte-level alphabet: the printable character that stands for each byte in the vocabulary. */
function byteLevelTable(): Map<number, number> {
  const table = new Map<number, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.set(printable ? b : 256 + extra++, b);
  }
  return table;
}

const utf8 = new TextEncoder();
const fatal = new TextDecoder('utf-8', { fatal: true });

/** The bytes of every token, read from its vocabulary string and checked against how it decodes. */
export function tokenBytes(tokenizer: Tokenizer, count: number): (Uint8Array | null)[] {
  const byteLevel = byteLevelTable();
  const out: (Uint8Array | null)[] = new Array(count).fill(null);
  for (let id = 0; id < count; id++) {
    const piece = tokenizer.idToToken(id);
    if (piece === null) continue;
    const text = tokenizer.decode([id]);
    if (text === '') continue; // special, or nothing
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (hex) {
      out[id] = Uint8Array.of(parseInt(hex[1], 16));
      continue;
    }
    // byte-level BPE: every character of the piece stands for one byte
    let bytes: Uint8Array | null = new Uint8Array(piece.length);
    for (let i = 0; i < piece.length; i++) {
      const b = byteLevel.get(piece.charCodeAt(i));
      if (b === undefined) { bytes = null; break; }
      bytes[i] = b;
    }
    if (bytes && decodesTo(bytes, text)) { out[id] = bytes; continue; }
    // SentencePiece: ▁ is a space (the decoder drops a leading one when the token comes first)
    const spaced = piece.replace(/\u2581/g, ' ');
    if (spaced !== piece && (spaced === text || spaced.slice(1) === text)) { out[id] = utf8.encode(spaced); continue; }
    out[id] = utf8.encode(text);
  }
  return out;
}

function decodesTo(bytes: Uint8Array, text: string): boolean {
  try {
    return fatal.decode(bytes) === text;
  } catch {
    return text.includes('\uFFFD'); // a piece of a character, which decodes to U+FFFD alone
  }
}

export function buildTrie(bytes: (Uint8Array | null)[]): TokenTrie {
  // build with maps, then lay out flat
  const children: Map<number, number>[] = [new Map()];
  const ends: number[][] = [[]];
  for (let id = 0; id < bytes.length; id++) {
    const b = bytes[id];
    if (!b || b.length === 0) continue;
    let n = 0;
    for (const x of b) {
      let c = children[n].get(x);
      if (c === undefined) {
        c = children.length;
        children.push(new Map());
        ends.push([]);
        children[n].set(x, c);
      }
      n = c;
    }
    ends[n].push(id);
  }
  const nodes = children.length;
  const edgeStart = new Int32Array(nodes + 1);
  const tokenStart = new Int32Array(nodes + 1);
  let edges = 0;
  let tokens = 0;
  for (let n = 0; n < nodes; n++) {
    edgeStart[n] = edges;
    tokenStart[n] = tokens;
    edges += children[n].size;
    tokens += ends[n].length;
  }
  edgeStart[nodes] = edges;
  tokenStart[nodes] = tokens;
  const edgeByte = new Uint8Array(edges);
  const edgeChild = new Int32Array(edges);
  const tokenIds = new Int32Array(tokens);
  for (let n = 0; n < nodes; n++) {
    let e = edgeStart[n];
    for (const [b, c] of [...children[n]].sort((x, y) => x[0] - y[0])) {
      edgeByte[e] = b;
      edgeChild[e++] = c;
    }
    tokenIds.set(ends[n], tokenStart[n]);
  }
  return { bytes, edgeStart, edgeByte, edgeChild, tokenStart, tokenIds };
}

const tries = new WeakMap<Tokenizer, Map<number, TokenTrie>>();

/** The trie of a tokenizer's first `count` ids, built once per tokenizer. */
export function trieOf(tokenizer: Tokenizer, count: number): TokenTrie {
  let byCount = tries.get(tokenizer);
  if (!byCount) tries.set(tokenizer, (byCount = new Map()));
  let trie = byCount.get(count);
  if (!trie) byCount.set(count, (trie = buildTrie(tokenBytes(tokenizer, count))));
  return trie;
}
