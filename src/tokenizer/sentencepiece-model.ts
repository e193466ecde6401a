// The SentencePiece model file (`tokenizer.model`): a protobuf `ModelProto` (sentencepiece_model.proto).
// We read the parts that encoding and decoding need, with the library's defaults for absent fields:
//
//   ModelProto      1 pieces (repeated SentencePiece)   2 trainer_spec   3 normalizer_spec   5 denormalizer_spec
//   SentencePiece   1 piece (string)   2 score (float)   3 type (1 normal, 2 unknown, 3 control,
//                                                                4 user-defined, 5 unused, 6 byte)
//   TrainerSpec     3 model_type (1 unigram, 2 BPE, 3 word, 4 char; default unigram)   24 treat_whitespace_as_suffix
//                   35 byte_fallback   44 unk_surface (default " ⁇ ")
//                   46 bos_piece, 47 eos_piece (default "<s>", "</s>")
//   NormalizerSpec  2 precompiled_charsmap (bytes)   3 add_dummy_prefix (default true)
//                   4 remove_extra_whitespaces (default true)   5 escape_whitespaces (default true)
//
// Only what LLaMA's tokenizer (and any BPE model without normalization rules) uses is supported; the rest
// is refused as UNSUPPORTED rather than tokenized differently from the library.
import { BimambaError, badFormat } from '../errors.js';
import { fieldBool, fieldFloat, fieldInt32, fieldString, readMessage, expectWire } from '../format/protobuf.js';

export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** Limits on untrusted model files, refused with BAD_FORMAT before the work they would cause. */
export const SENTENCEPIECE_LIMITS = {
  /** Bytes of the whole file (LLaMA's is 0.5 MB; the largest common ones are a few MB). */
  fileBytes: 64 * 1024 * 1024,
  /** Pieces (the same bound as a tokenizer.json's token ids). */
  pieces: 1 << 22,
  /** UTF-8 bytes of one piece (the trainer's default maximum is 16 characters). */
  pieceBytes: 1024,
};

export interface SentencePieceModel {
  /** Piece strings by id, with U+2581 (▁) standing for a space. */
  pieces: string[];
  scores: Float32Array;
  /** PieceType by id. */
  types: Uint8Array;
  byteFallback: boolean;
  unkId: number;
  unkSurface: string;
  bosPiece: string;
  eosPiece: string;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

const WHERE = 'tokenizer.model';
const bad = (what: string) => badFormat(WHERE, what);
const unsupported = (what: string) => new BimambaError('UNSUPPORTED', `${WHERE}: ${what}; only BPE models without normalization rules (as LLaMA's) are supported`);

/** "<0x41>" -> 65, or -1 when the piece is not a byte piece. */
export function pieceToByte(piece: string): number {
  return /^<0x[0-9A-F]{2}>$/.test(piece) ? parseInt(piece.slice(3, 5), 16) : -1;
}

/** Parse and check a SentencePiece model file. */
export function parseSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  if (!(bytes instanceof Uint8Array)) throw new BimambaError('BAD_ARGUMENT', `${WHERE}: expected the file's bytes`);
  if (bytes.length > SENTENCEPIECE_LIMITS.fileBytes) throw bad(`${bytes.length} bytes, over the limit of ${SENTENCEPIECE_LIMITS.fileBytes}`);
  if (bytes.length === 0) throw bad('the file is empty');

  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const trainer = { modelType: 1, byteFallback: false, suffix: false, unkSurface: ' \u2047 ', bosPiece: '<s>', eosPiece: '</s>' };
  const normalizer = { charsmap: 0, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  let denormalizerCharsmap = 0;

  readMessage(bytes, 0, bytes.length, WHERE, (f) => {
    if (f.field === 1) {
      expectWire(f, 2, WHERE);
      if (pieces.length >= SENTENCEPIECE_LIMITS.pieces) throw bad(`more than ${SENTENCEPIECE_LIMITS.pieces} pieces`);
      const where = `${WHERE}, piece ${pieces.length}`;
      let piece: string | null = null;
      let score = 0;
      let type: number = PieceType.NORMAL;
      readMessage(bytes, f.start, f.end, where, (g) => {
        if (g.field === 1) {
          if (g.end - g.start > SENTENCEPIECE_LIMITS.pieceBytes) throw bad(`piece ${pieces.length} is ${g.end - g.start} bytes, over the limit of ${SENTENCEPIECE_LIMITS.pieceBytes}`);
          piece = fieldString(bytes, g, where);
        } else if (g.field === 2) score = fieldFloat(bytes, g, where);
        else if (g.field === 3) type = fieldInt32(g, where);
      });
      if (piece === null || piece === '') throw bad(`piece ${pieces.length} has no text`);
      if (!(type >= PieceType.NORMAL && type <= PieceType.BYTE)) throw bad(`piece ${pieces.length} has an unknown type ${type}`);
      if (!Number.isFinite(score)) throw bad(`piece ${pieces.length} has a score that is not a finite number`);
      pieces.push(piece);
      scores.push(score);
      types.push(type);
    } else if (f.field === 2) {
      expectWire(f, 2, WHERE);
      const where = `${WHERE}, trainer_spec`;
      readMessage(bytes, f.start, f.end, where, (g) => {
        if (g.field === 3) trainer.modelType = fieldInt32(g, where);
        else if (g.field === 24) trainer.suffix = fieldBool(g, where);
        else if (g.field === 35) trainer.byteFallback = fieldBool(g, where);
        else if (g.field === 44) trainer.unkSurface = fieldString(bytes, g, where).slice(0, 64);
        else if (g.field === 46) trainer.bosPiece = fieldString(bytes, g, where);
        else if (g.field === 47) trainer.eosPiece = fieldString(bytes, g, where);
      });
    } else if (f.field === 3 || f.field === 5) {
      expectWire(f, 2, WHERE);
      const where = `${WHERE}, ${f.field === 3 ? 'normalizer_spec' : 'denormalizer_spec'}`;
      readMessage(bytes, f.start, f.end, where, (g) => {
        if (g.field === 2) {
          expectWire(g, 2, where);
          if (f.field === 3) normalizer.charsmap = g.end - g.start;
          else denormalizerCharsmap = g.end - g.start;
        } else if (f.field === 3 && g.field === 3) normalizer.addDummyPrefix = fieldBool(g, where);
        else if (f.field === 3 && g.field === 4) normalizer.removeExtraWhitespaces = fieldBool(g, where);
        else if (f.field === 3 && g.field === 5) normalizer.escapeWhitespaces = fieldBool(g, where);
      });
    }
  });

  if (pieces.length === 0) throw bad('no pieces (is this a SentencePiece model?)');
  if (trainer.modelType !== 2) throw unsupported(`model type ${({ 1: 'unigram', 3: 'word', 4: 'char' } as Record<number, string>)[trainer.modelType] ?? trainer.modelType}`);
  if (trainer.suffix) throw unsupported('treat_whitespace_as_suffix is set');
  if (normalizer.charsmap > 0) throw unsupported('the normalizer has rules (precompiled_charsmap)');
  if (denormalizerCharsmap > 0) throw unsupported('the denormalizer has rules (precompiled_charsmap)');

  // The library's own checks when it loads a model: unique pieces, one unknown piece, valid byte pieces.
  const seen = new Set<string>();
  let unkId = -1;
  for (let id = 0; id < pieces.length; id++) {
    if (seen.has(pieces[id])) throw bad(`piece ${id} ${JSON.stringify(pieces[id].slice(0, 40))} is defined twice`);
    seen.add(pieces[id]);
    if (types[id] === PieceType.UNKNOWN) {
      if (unkId >= 0) throw bad(`pieces ${unkId} and ${id} are both the unknown piece`);
      unkId = id;
    }
    if (types[id] === PieceType.BYTE) {
      if (!trainer.byteFallback) throw bad(`piece ${id} is a byte piece but byte_fallback is off`);
      if (pieceToByte(pieces[id]) < 0) throw bad(`piece ${id} ${JSON.stringify(pieces[id].slice(0, 40))} is typed as a byte but is not <0xNN>`);
    }
  }
  if (unkId < 0) throw bad('no unknown piece (<unk>)');

  return {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    byteFallback: trainer.byteFallback,
    unkId,
    unkSurface: trainer.unkSurface,
    bosPiece: trainer.bosPiece,
    eosPiece: trainer.eosPiece,
    addDummyPrefix: normalizer.addDummyPrefix,
    removeExtraWhitespaces: normalizer.removeExtraWhitespaces,
    escapeWhitespaces: normalizer.escapeWhitespaces,
  };
}
