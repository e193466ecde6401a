// Session snapshots: a fixed-size byte image of a session, for saving and resuming a conversation.
//
//   offset  size   field
//   0       4      magic "BMSS"
//   4       4 u32  snapshot format version (3)
//   8       4 u32  model fingerprint (a snapshot only restores into the model that made it)
//   12      4 u32  state bytes S
//   16      8 f64  tokens seen
//   24      4 u32  how the SSM state is stored: 0 f32, 1 bf16 (LoadOptions.stateType)
//   28      4      zero
//   32      S      state: per layer the conv window (f32) and the SSM state, then the last logits (f32)
//                  (the layout is memory.ts's stateLayout)
//
// Little-endian throughout. The size is 32 + S bytes, independent of the tokens seen. A snapshot
// restores into a model loaded with either state type: the SSM state is converted (f32 to bf16 rounds
// as the scans round; bf16 to f32 is exact).
//
// A snapshot holds the recurrent state, which is all the model carries; the recent tokens that the
// repetition penalty looks at (SamplingOptions.repetitionWindow) are generation's, not the model's: a
// restored session starts with none. Earlier formats are still read, with an f32 state: version 2 had
// the same fields up to offset 24 and the state there; version 1 also held the last 256 tokens, at
// offset 28 after their count at 24, the state after them at 28 + 1024 (those tokens are restored too).
import { BimambaError } from '../errors.js';
import type { StateLayout, StateType } from './memory.js';
import type { Session } from './session.js';
import { checkTokens } from '../generate/tokens.js';

const MAGIC = 0x53534d42; // "BMSS" read as a little-endian u32
const VERSION = 3;
const HEADER = 32;
const V2_HEADER = 24;
const V1_HISTORY = 256;
const V1_HEADER = 28 + 4 * V1_HISTORY;
const TYPE_CODES: Record<StateType, number> = { f32: 0, bf16: 1 };

export function snapshotSize(stateBytes: number): number {
  return HEADER + stateBytes;
}

export function writeSnapshot(s: Session, stateType: StateType): Uint8Array {
  const state = s.stateView();
  const out = new Uint8Array(HEADER + state.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, s.fingerprint, true);
  dv.setUint32(12, state.length, true);
  dv.setFloat64(16, s.tokensSeen, true);
  dv.setUint32(24, TYPE_CODES[stateType], true);
  out.set(state, HEADER);
  return out;
}

/**
 * Fill a fresh session from snapshot bytes, refusing bytes of another model or format version.
 * `own` is the layout of the model's sessions, `layoutOf(type)` its layout for either state type.
 */
export function readSnapshot(bytes: Uint8Array, into: Session, own: StateLayout, layoutOf: (t: StateType) => StateLayout, vocab: number): void {
  if (!(bytes instanceof Uint8Array)) throw new BimambaError('BAD_ARGUMENT', 'a snapshot must be a Uint8Array');
  if (bytes.length < V2_HEADER) throw new BimambaError('BAD_FORMAT', `snapshot too short: ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new BimambaError('BAD_FORMAT', 'not a bimamba session snapshot (bad magic)');
  const version = dv.getUint32(4, true);
  if (version < 1 || version > VERSION) {
    throw new BimambaError('BAD_FORMAT', `snapshot format version ${version} is not supported (expected ${VERSION}, 2 or 1)`);
  }
  if (dv.getUint32(8, true) !== into.fingerprint) throw new BimambaError('BAD_FORMAT', 'this snapshot was made by another model');
  const header = version === 1 ? V1_HEADER : version === 2 ? V2_HEADER : HEADER;
  if (bytes.length < header) throw new BimambaError('BAD_FORMAT', `snapshot too short: ${bytes.length} bytes`);
  let stateType: StateType = 'f32';
  if (version === 3) {
    const code = dv.getUint32(24, true);
    const found = (Object.keys(TYPE_CODES) as StateType[]).find((t) => TYPE_CODES[t] === code);
    if (!found || dv.getUint32(28, true) !== 0) throw new BimambaError('BAD_FORMAT', 'snapshot header is corrupt');
    stateType = found;
  }
  const layout = stateType === own.stateType ? own : layoutOf(stateType);
  const S = dv.getUint32(12, true);
  if (S !== layout.total || bytes.length !== header + S) {
    throw new BimambaError('BAD_FORMAT', `snapshot state is ${S} bytes (${bytes.length} in all); this model's ${stateType} state is ${layout.total}`);
  }
  const seen = dv.getFloat64(16, true);
  // a count of tokens fed: a safe integer (1e308 is an integer, but no session ever sees it, and it would
  // make tokensSeen + 1 === tokensSeen)
  if (!Number.isSafeInteger(seen) || seen < 0) throw new BimambaError('BAD_FORMAT', `snapshot header is corrupt (tokens seen: ${seen})`);
  const recent: number[] = [];
  if (version === 1) {
    const h = dv.getUint32(24, true);
    if (h > V1_HISTORY) throw new BimambaError('BAD_FORMAT', 'snapshot header is corrupt');
    for (let i = 0; i < h; i++) recent.push(dv.getInt32(28 + 4 * i, true));
    checkTokens(recent, vocab);
  }
  const state = bytes.subarray(header);
  if (layout === own) into.stateView().set(state);
  else convertState(state, layout, into.stateView(), own);
  into.restoreCounters(seen, recent);
}

/** Copy a state from one layout to the other: conv windows and logits as they are, the SSM state converted. */
function convertState(src: Uint8Array, from: StateLayout, dst: Uint8Array, to: StateLayout): void {
  const values = (from.stateType === 'f32' ? from.ssmBytes : to.ssmBytes) / 4; // the f32 side's count
  for (let l = 0; l < from.layers; l++) {
    const s = l * from.layerBytes, d = l * to.layerBytes;
    dst.set(src.subarray(s, s + from.convBytes), d);
    const ssm = src.slice(s + from.convBytes, s + from.layerBytes); // a copy: aligned for the typed views
    const out = new Uint8Array(to.ssmBytes);
    if (from.stateType === 'f32') {
      const f = new Uint32Array(ssm.buffer), b = new Uint16Array(out.buffer);
      for (let i = 0; i < values; i++) b[i] = (f[i] + 0x8000) >>> 16; // to nearest, as the scans round (assembly/state.ts)
    } else {
      const b = new Uint16Array(ssm.buffer), f = new Uint32Array(out.buffer);
      for (let i = 0; i < values; i++) f[i] = b[i] << 16;
    }
    dst.set(out, d + to.convBytes);
  }
  dst.set(src.subarray(from.logitsOffset, from.total), to.logitsOffset);
}
