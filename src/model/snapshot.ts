// Session snapshots: a fixed-size byte image of a session, for saving and resuming a conversation.
//
//   offset  size            field
//   0       4               magic "BMSS"
//   4       4   u32         snapshot format version (1)
//   8       4   u32         model fingerprint (a snapshot only restores into the model that made it)
//   12      4   u32         state bytes S
//   16      8   f64         tokens seen
//   24      4   u32         history length h (≤ HISTORY)
//   28      4*HISTORY i32   history, oldest first, zero-filled past h
//   28+4*HISTORY  S         state: per layer conv window and SSM state (f32), then the last logits (f32)
//
// Little-endian throughout. The size is 28 + 4*HISTORY + S bytes, independent of the tokens seen.
import { BimambaError } from '../errors.js';
import type { Session } from './session.js';
import { checkTokens } from './tokens.js';

/** Recent tokens a session keeps for the repetition penalty (a fixed window, so snapshots keep a fixed size). */
export const HISTORY = 256;

const MAGIC = 0x53534d42; // "BMSS" read as a little-endian u32
const VERSION = 1;
const HEADER = 28 + 4 * HISTORY;

export function snapshotSize(stateBytes: number): number {
  return HEADER + stateBytes;
}

export function writeSnapshot(s: Session): Uint8Array {
  const state = s.stateView();
  const out = new Uint8Array(HEADER + state.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, s.host.fingerprint, true);
  dv.setUint32(12, state.length, true);
  dv.setFloat64(16, s.tokensSeen, true);
  dv.setUint32(24, s.history.length, true);
  s.history.forEach((t, i) => dv.setInt32(28 + 4 * i, t, true));
  out.set(state, HEADER);
  return out;
}

/** Fill a fresh session from snapshot bytes, refusing bytes of another model or format version. */
export function readSnapshot(bytes: Uint8Array, into: Session, vocab: number): void {
  if (!(bytes instanceof Uint8Array)) throw new BimambaError('BAD_ARGUMENT', 'a snapshot must be a Uint8Array');
  if (bytes.length < HEADER) throw new BimambaError('BAD_FORMAT', `snapshot too short: ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new BimambaError('BAD_FORMAT', 'not a bimamba session snapshot (bad magic)');
  const version = dv.getUint32(4, true);
  if (version !== VERSION) throw new BimambaError('BAD_FORMAT', `snapshot format version ${version} is not supported (expected ${VERSION})`);
  const host = into.host;
  if (dv.getUint32(8, true) !== host.fingerprint) throw new BimambaError('BAD_FORMAT', 'this snapshot was made by another model');
  const S = dv.getUint32(12, true);
  if (S !== host.stateBytes || bytes.length !== HEADER + S) {
    throw new BimambaError('BAD_FORMAT', `snapshot state is ${S} bytes (${bytes.length} in all); this model's is ${host.stateBytes}`);
  }
  const seen = dv.getFloat64(16, true);
  const h = dv.getUint32(24, true);
  if (!Number.isInteger(seen) || seen < 0 || h > HISTORY) throw new BimambaError('BAD_FORMAT', 'snapshot header is corrupt');
  const history: number[] = [];
  for (let i = 0; i < h; i++) history.push(dv.getInt32(28 + 4 * i, true));
  checkTokens(history, vocab);
  into.stateView().set(bytes.subarray(HEADER));
  into.tokensSeen = seen;
  into.history = history;
}
