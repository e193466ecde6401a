// Text <-> token ids for a SentencePiece BPE model (LLaMA's tokenizer.model), done the way the
// `sentencepiece` library does it, so that ids and decoded text equal the library's
// (tests/tokenizer/sentencepiece/ compares them on hard texts).
//
// Encoding:
//   1. normalize: prepend one space (add_dummy_prefix: the "leading-space rule" that makes "Hello" at the
//      start of a text the same token as " Hello" inside it), then write every space as ▁ (U+2581);
//   2. BPE over the whole normalized text, one character per symbol to start with: repeatedly merge the
//      adjacent pair whose concatenation is a piece with the highest score (ties: the leftmost pair);
//   3. every resulting symbol that is not a piece becomes the byte pieces <0xNN> of its UTF-8 bytes
//      (byte_fallback), or the unknown piece.
// Decoding: pieces concatenated with ▁ turned back into spaces; the first piece loses its leading ▁ (the
// dummy prefix); runs of byte pieces are decoded as UTF-8, each byte that does not start a valid
// character becoming one U+FFFD; control pieces (<s>, </s>) decode to nothing, <unk> to " ⁇ ".
// No special tokens are added by encode(): `addsBos` tells the runtime to prepend <s>, as LLaMA does.
import { BimambaError } from '../errors.js';
import { PieceType, pieceToByte, type SentencePieceModel } from './sentencepiece-model.js';
import { createStreamDecoder } from './stream.js';
import type { LoadTokenizerOptions, Tokenizer } from './index.js';

const SPACE = '\u2581';
const REPLACEMENT = '\uFFFD';

/** Max-heap of candidate merges: higher score first, then the smaller left index (the library's order). */
class MergeQueue {
  private score = new Float64Array(64);
  private left = new Int32Array(64);
  private size = new Int32Array(64); // code units of the merged piece, to recognise stale entries
  private length = 0;

  get empty(): boolean { return this.length === 0; }

  private before(i: number, j: number): boolean {
    return this.score[i] > this.score[j] || (this.score[i] === this.score[j] && this.left[i] < this.left[j]);
  }

  private swap(i: number, j: number): void {
    const score = this.score[i], left = this.left[i], size = this.size[i];
    this.score[i] = this.score[j]; this.left[i] = this.left[j]; this.size[i] = this.size[j];
    this.score[j] = score; this.left[j] = left; this.size[j] = size;
  }

  push(score: number, left: number, size: number): void {
    if (this.length === this.score.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(a.length * 2); b.set(a); return b; };
      this.score = grow(this.score); this.left = grow(this.left); this.size = grow(this.size);
    }
    let i = this.length++;
    this.score[i] = score; this.left[i] = left; this.size[i] = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Remove the best entry; returns [left, size]. */
  pop(): [number, number] {
    const top: [number, number] = [this.left[0], this.size[0]];
    this.length--;
    if (this.length > 0) {
      this.score[0] = this.score[this.length]; this.left[0] = this.left[this.length]; this.size[0] = this.size[this.length];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.length && this.before(l, best)) best = l;
        if (r < this.length && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/** A tokenizer for a parsed SentencePiece BPE model. */
export function sentencePieceTokenizer(model: SentencePieceModel, options: LoadTokenizerOptions = {}): Tokenizer {
  const { pieces, scores, types, unkId } = model;
  const n = pieces.length;
  // The library keeps two tables: pieces BPE may produce (normal, user-defined, unused) and the rest.
  const mergeable = new Map<string, number>();
  const reserved = new Map<string, number>();
  const userDefined: string[] = [];
  const byteId = new Int32Array(256).fill(-1);
  for (let id = 0; id < n; id++) {
    const t = types[id];
    if (t === PieceType.NORMAL || t === PieceType.USER_DEFINED || t === PieceType.UNUSED) mergeable.set(pieces[id], id);
    else reserved.set(pieces[id], id);
    if (t === PieceType.USER_DEFINED) userDefined.push(pieces[id]);
    if (t === PieceType.BYTE) byteId[pieceToByte(pieces[id])] = id;
  }
  const userTrie = buildTrie(userDefined);
  const pieceToId = (p: string) => reserved.get(p) ?? mergeable.get(p) ?? unkId;
  const space = model.escapeWhitespaces ? SPACE : ' ';

  /** The normalized text: the dummy prefix, spaces as ▁, optionally extra whitespace removed. */
  function normalize(text: string): string {
    const out: string[] = [];
    const remove = model.removeExtraWhitespaces;
    let i = 0;
    if (remove) while (i < text.length && text[i] === ' ') i++;
    if (i === text.length) return '';
    if (model.addDummyPrefix) out.push(space);
    let prevSpace = remove;
    for (; i < text.length; i++) {
      let c = text[i];
      const code = text.charCodeAt(i);
      const pair = (code & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pair) {
        c = text.slice(i, i + 2);
        i++;
      } else if ((code & 0xf800) === 0xd800) {
        c = REPLACEMENT; // a lone surrogate has no UTF-8 form (TextEncoder writes U+FFFD too)
      }
      if (c === ' ') {
        if (prevSpace) continue;
        out.push(space);
        prevSpace = remove;
      } else {
        out.push(c);
        prevSpace = false;
      }
    }
    let s = out.join('');
    if (remove) while (s.endsWith(space)) s = s.slice(0, -space.length);
    return s;
  }

  /** BPE of a normalized text into piece strings. */
  function bpe(text: string): string[] {
    // Symbols: a doubly linked list over the text; symbol i covers text[start[i], start[i] + len[i]).
    const count = text.length;
    const start = new Int32Array(count);
    const len = new Int32Array(count);
    const frozen = new Uint8Array(count); // user-defined symbols are never merged
    let m = 0;
    for (let pos = 0; pos < text.length; m++) {
      let l = userTrie ? longestMatch(userTrie, text, pos) : 0;
      if (l > 0) frozen[m] = 1;
      else l = (text.charCodeAt(pos) & 0xfc00) === 0xd800 && pos + 1 < text.length ? 2 : 1;
      start[m] = pos;
      len[m] = l;
      pos += l;
    }
    const next = new Int32Array(m);
    const prev = new Int32Array(m);
    for (let i = 0; i < m; i++) { prev[i] = i - 1; next[i] = i + 1 < m ? i + 1 : -1; }

    const queue = new MergeQueue();
    // Unused pieces may be merged through but not emitted: remember what they were made of.
    const unmerge = new Map<string, [string, string]>();
    const consider = (left: number, right: number) => {
      if (left < 0 || right < 0 || frozen[left] || frozen[right]) return;
      const piece = text.slice(start[left], start[left] + len[left] + len[right]);
      const id = mergeable.get(piece);
      if (id === undefined) return;
      queue.push(scores[id], left, piece.length);
      if (types[id] === PieceType.UNUSED) unmerge.set(piece, [text.substr(start[left], len[left]), text.substr(start[right], len[right])]);
    };
    for (let i = 1; i < m; i++) consider(i - 1, i);

    while (!queue.empty) {
      const [left, size] = queue.pop();
      const right = next[left];
      // Stale: one side was merged into something else since this entry was queued.
      if (len[left] === 0 || right < 0 || len[right] === 0 || len[left] + len[right] !== size) continue;
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      consider(prev[left], left);
      consider(left, next[left]);
    }

    const out: string[] = [];
    const emit = (w: string) => {
      const parts = types[mergeable.get(w) ?? unkId] === PieceType.UNUSED ? unmerge.get(w) : undefined;
      if (parts) { emit(parts[0]); emit(parts[1]); } else out.push(w);
    };
    for (let i = m > 0 ? 0 : -1; i >= 0; i = next[i]) emit(text.substr(start[i], len[i]));
    return out;
  }

  const utf8 = new TextEncoder();

  function encode(text: string): number[] {
    if (typeof text !== 'string') throw new BimambaError('BAD_ARGUMENT', `encode: expected a string, got ${text === null ? 'null' : typeof text}`);
    const ids: number[] = [];
    for (const w of bpe(normalize(text))) {
      const id = pieceToId(w);
      if (id === unkId && model.byteFallback) {
        for (const b of utf8.encode(w)) ids.push(byteId[b] >= 0 ? byteId[b] : unkId);
      } else {
        ids.push(id);
      }
    }
    return ids;
  }

  function checkIds(ids: number[]): void {
    if (!Array.isArray(ids)) throw new BimambaError('BAD_ARGUMENT', `decode: expected an array of token ids, got ${ids === null ? 'null' : typeof ids}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= n) throw new BimambaError('BAD_TOKEN', `decode: token id ${String(id)} at position ${i} is not in the vocabulary (size ${n})`);
    }
  }

  function decode(ids: number[]): string {
    checkIds(ids);
    let text = '';
    let bytes: number[] = [];
    const flushBytes = () => { if (bytes.length > 0) { text += decodeBytes(bytes); bytes = []; } };
    let bosWs = true; // the dummy prefix may still be ahead, to strip
    let bosWsSeen = false;
    for (const id of ids) {
      const t = types[id];
      if (t === PieceType.BYTE) { bytes.push(pieceToByte(pieces[id])); continue; }
      flushBytes();
      if (bosWsSeen || text !== '') bosWs = false;
      bosWsSeen = false;
      if (t === PieceType.CONTROL) continue;
      if (t === PieceType.UNKNOWN) { text += model.unkSurface; continue; }
      let piece = pieces[id];
      if (bosWs && (model.addDummyPrefix || model.removeExtraWhitespaces) && piece.startsWith(SPACE)) {
        piece = piece.slice(SPACE.length);
        bosWsSeen = !model.removeExtraWhitespaces;
      }
      text += piece.replaceAll(SPACE, ' ');
    }
    flushBytes();
    return text;
  }

  function specialId(given: string | undefined, piece: string, which: string): number | null {
    if (given !== undefined) {
      const id = reserved.get(given) ?? mergeable.get(given);
      if (id === undefined) throw new BimambaError('BAD_ARGUMENT', `loadTokenizer: ${which} token ${JSON.stringify(given)} is not in the vocabulary`);
      return id;
    }
    const id = reserved.get(piece);
    return id !== undefined && types[id] === PieceType.CONTROL ? id : null;
  }

  const bosTokenId = specialId(options.bosToken, model.bosPiece, 'BOS');
  return {
    encode,
    decode,
    vocabSize: n,
    bosTokenId,
    eosTokenId: specialId(options.eosToken, model.eosPiece, 'EOS'),
    addsBos: bosTokenId !== null,
    tokenToId: (token) => (typeof token === 'string' ? (reserved.get(token) ?? mergeable.get(token) ?? null) : null),
    idToToken: (id) => (Number.isInteger(id) && id >= 0 && id < n ? pieces[id] : null),
    createStreamDecoder: () => createStreamDecoder(decode),
  };
}

/** A trie of the user-defined pieces by UTF-16 code unit (they are matched longest first, as the library does). */
interface TrieNode { next: Map<number, TrieNode>; end: boolean }

function buildTrie(words: string[]): TrieNode | null {
  if (words.length === 0) return null;
  const root: TrieNode = { next: new Map(), end: false };
  for (const w of words) {
    let node = root;
    for (let i = 0; i < w.length; i++) {
      let child = node.next.get(w.charCodeAt(i));
      if (!child) { child = { next: new Map(), end: false }; node.next.set(w.charCodeAt(i), child); }
      node = child;
    }
    node.end = true;
  }
  return root;
}

/** Length of the longest word of the trie that `text` has at `pos` (0 for none). */
function longestMatch(root: TrieNode, text: string, pos: number): number {
  let node: TrieNode | undefined = root;
  let best = 0;
  for (let i = pos; i < text.length; i++) {
    node = node.next.get(text.charCodeAt(i));
    if (!node) break;
    if (node.end) best = i + 1 - pos;
  }
  return best;
}

/**
 * UTF-8 bytes to text as the library decodes byte pieces: one character at a time, and a byte that
 * does not start a valid, shortest-form character (no surrogates, at most U+10FFFF) is one U+FFFD.
 */
export function decodeBytes(bytes: number[]): string {
  let out = '';
  const trail = (i: number) => i < bytes.length && (bytes[i] & 0xc0) === 0x80;
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let cp = -1;
    let size = 1;
    if (b < 0x80) cp = b;
    else if ((b & 0xe0) === 0xc0 && trail(i + 1)) { cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f); size = 2; if (cp < 0x80) cp = -1; }
    else if ((b & 0xf0) === 0xe0 && trail(i + 1) && trail(i + 2)) {
      cp = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f); size = 3;
      if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = -1;
    } else if ((b & 0xf8) === 0xf0 && trail(i + 1) && trail(i + 2) && trail(i + 3)) {
      cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f); size = 4;
      if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
    }
    if (cp < 0) { out += REPLACEMENT; i += 1; } else { out += String.fromCodePoint(cp); i += size; }
  }
  return out;
}
