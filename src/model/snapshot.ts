// Session snapshots: a fixed-size byte image of a session, for saving and resuming a conversation.
//
//   offset  size   field
//   0       4      magic "BMSS"
//   4       4 u32  snapshot format version (2)
//   8       4 u32  model fingerprint (a snapshot only restores into the model that made it)
//   12      4 u32  state bytes S
//   16      8 f64  tokens seen
//   24      S      state: per layer conv window and SSM state (f32), then the last logits (f32)
//
// Little-endian throughout. The size is 24 + S bytes, independent of the tokens seen.
//
// A snapshot holds the recurrent state, which is all the model carries; the recent tokens that the
// repetition penalty looks at (SamplingOptions.repetitionWindow) are generation's, not the model's: a
// restored session starts with none. Version 1 (written before) also held the last 256 tokens, at
// offset 28 after their count at 24, the state after them at 28 + 1024; it is still read, those
// tokens included.
import { BimambaError } from '../errors.js';
import type { Session } from './session.js';
import { checkTokens } from './tokens.js';

const MAGIC = 0x53534d42; // "BMSS" read as a little-endian u32
const VERSION = 2;
const HEADER = 24;
const V1_HISTORY = 256;
const V1_HEADER = 28 + 4 * V1_HISTORY;

export function snapshotSize(stateBytes: number): number {
  return HEADER + stateBytes;
}

export function writeSnapshot(s: Session): Uint8Array {
  const state = s.stateView();
  const out = new Uint8Array(HEADER + state.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, s.fingerprint, true);
  dv.setUint32(12, state.length, true);
  dv.setFloat64(16, s.tokensSeen, true);
  out.set(state, HEADER);
  return out;
}

/** Fill a fresh session from snapshot bytes, refusing bytes of another model or format version. */
export function readSnapshot(bytes: Uint8Array, into: Session, stateBytes: number, vocab: number): void {
  if (!(bytes instanceof Uint8Array)) throw new BimambaError('BAD_ARGUMENT', 'a snapshot must be a Uint8Array');
  if (bytes.length < HEADER) throw new BimambaError('BAD_FORMAT', `snapshot too short: ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new BimambaError('BAD_FORMAT', 'not a bimamba session snapshot (bad magic)');
  const version = dv.getUint32(4, true);
  if (version !== VERSION && version !== 1) {
    throw new BimambaError('BAD_FORMAT', `snapshot format version ${version} is not supported (expected ${VERSION}, or 1)`);
  }
  if (dv.getUint32(8, true) !== into.fingerprint) throw new BimambaError('BAD_FORMAT', 'this snapshot was made by another model');
  const header = version === 1 ? V1_HEADER : HEADER;
  const S = dv.getUint32(12, true);
  if (S !== stateBytes || bytes.length !== header + S) {
    throw new BimambaError('BAD_FORMAT', `snapshot state is ${S} bytes (${bytes.length} in all); this model's is ${stateBytes}`);
  }
  const seen = dv.getFloat64(16, true);
  if (!Number.isInteger(seen) || seen < 0) throw new BimambaError('BAD_FORMAT', 'snapshot header is corrupt');
  const recent: number[] = [];
  if (version === 1) {
    const h = dv.getUint32(24, true);
    if (h > V1_HISTORY) throw new BimambaError('BAD_FORMAT', 'snapshot header is corrupt');
    for (let i = 0; i < h; i++) recent.push(dv.getInt32(28 + 4 * i, true));
    checkTokens(recent, vocab);
  }
  into.stateView().set(bytes.subarray(header));
  into.restoreCounters(seen, recent);
}
