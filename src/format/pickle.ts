// A restricted unpickler for the data.pkl of a torch.save'd state dict.
// It interprets the pickle opcodes itself and never runs code: a GLOBAL can only name one of the few
// callables a state dict needs (below), which are emulated here, and anything else is refused with
// UNSAFE_PICKLE. Tensors come out as references (storage key, dtype, offset, shape, stride); their
// bytes live in the zip archive beside the pickle (see torch.ts).
import { BimambaError, badFormat } from '../errors.js';
import { preview } from './preview.js';

/** A storage named by a persistent id: ('storage', <StorageType>, key, location, numel). */
export interface StorageRef {
  kind: 'storage';
  key: string;
  /** safetensors-style dtype name of the storage type. */
  dtype: string;
  numel: number;
}

/** A tensor made by torch._utils._rebuild_tensor_v2: a view into a storage, offsets in elements. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The storage types torch.save writes, by the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** The only callables a pickle may name, and what each one builds. */
type Callable = 'OrderedDict' | 'rebuild_tensor' | 'rebuild_parameter';
const CALLABLES: Readonly<Record<string, Callable>> = {
  'collections.OrderedDict': 'OrderedDict',
  'torch._utils._rebuild_tensor_v2': 'rebuild_tensor',
  'torch._utils._rebuild_parameter': 'rebuild_parameter',
};

/** What a GLOBAL opcode pushes: an allowed callable or a storage type, never anything else. */
interface GlobalRef { kind: 'global'; name: string; callable?: Callable; storageDtype?: string }

const MARK = Symbol('mark');

/** Bounds on the unpickler's work: a state dict's pickle is kilobytes, with a shallow stack. */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
export const MAX_STACK = 1_000_000;
export const MAX_MEMO = 1_000_000;
/** Items put into lists, tuples and dicts, in all (a state dict of 100,000 tensors needs about 1.5 M). */
export const MAX_ITEMS = 4_000_000;
/** LONG1 / LONG4 payloads longer than this are refused before anything is built (a tensor offset fits in 8 bytes). */
export const MAX_LONG_BYTES = 8;
type Value = unknown;

const unsafe = (what: string) => new BimambaError('UNSAFE_PICKLE', what);

function resolveGlobal(module: string, name: string, where: string): GlobalRef {
  const full = `${module}.${name}`;
  // own properties only: "torch.constructor" or "torch.__proto__" must not find Object's
  if (Object.hasOwn(CALLABLES, full)) return { kind: 'global', name: full, callable: CALLABLES[full] };
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return { kind: 'global', name: full, storageDtype: STORAGE_DTYPES[name] };
  throw unsafe(`${where}: the pickle names the global ${preview(full, 100)}, which a state dict never needs; refusing to load it (nothing was executed)`);
}

/** Read an int that must be a non-negative safe integer. */
function count(v: Value, what: string, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badFormat(where, `${what} must be a non-negative integer, got ${preview(v)}`);
  return v;
}

function intList(v: Value, what: string, where: string): number[] {
  if (!Array.isArray(v)) throw badFormat(where, `${what} must be a tuple of integers`);
  return v.map((x) => count(x, what, where));
}

function isGlobal(v: Value): v is GlobalRef {
  return typeof v === 'object' && v !== null && (v as GlobalRef).kind === 'global';
}

/** Call one of the allowed callables with its argument tuple. */
function call(fn: Value, args: Value, where: string): Value {
  if (!isGlobal(fn) || !fn.callable) throw unsafe(`${where}: the pickle calls ${isGlobal(fn) ? preview(fn.name, 100) : 'a value'} that is not an allowed callable`);
  if (!Array.isArray(args)) throw badFormat(where, `arguments to ${fn.name} are not a tuple`);
  switch (fn.callable) {
    case 'OrderedDict':
      if (args.length !== 0) throw badFormat(where, 'OrderedDict called with arguments');
      return new Map<Value, Value>();
    case 'rebuild_parameter':
      return args[0];
    case 'rebuild_tensor': {
      // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = args;
      if (!(typeof storage === 'object' && storage !== null && (storage as StorageRef).kind === 'storage')) {
        throw badFormat(where, '_rebuild_tensor_v2 got something other than a storage');
      }
      const shape = intList(size, 'tensor size', where);
      const strides = intList(stride, 'tensor stride', where);
      if (strides.length !== shape.length) throw badFormat(where, 'tensor size and stride differ in length');
      return { kind: 'tensor', storage: storage as StorageRef, offset: count(offset, 'storage offset', where), shape, stride: strides } satisfies TensorRef;
    }
  }
}

/** A persistent id: only ('storage', StorageType, key, location, numel) is understood. */
function persistentLoad(pid: Value, where: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw badFormat(where, `unknown persistent id ${preview(Array.isArray(pid) ? pid[0] : pid)}`);
  const [, type, key, , numel] = pid;
  if (!isGlobal(type) || !type.storageDtype) throw badFormat(where, 'a storage persistent id without a storage type');
  if (typeof key !== 'string') throw badFormat(where, 'a storage key is not a string');
  return { kind: 'storage', key, dtype: type.storageDtype, numel: count(numel, 'storage size', where) };
}

/**
 * Unpickle a state dict: the name of every tensor and its reference. `where` names the file in errors.
 * Only protocol-2+ binary opcodes are understood, which is what torch.save writes.
 */
export function unpickleStateDict(data: Uint8Array, where: string): Map<string, TensorRef> {
  if (data.length > MAX_PICKLE_BYTES) throw badFormat(where, `the pickle is ${data.length} bytes, over the limit of ${MAX_PICKLE_BYTES}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  let p = 0;

  const need = (n: number) => {
    if (p + n > data.length) throw badFormat(where, `the pickle is truncated at byte ${p}`);
  };
  const u8 = () => { need(1); return data[p++]; };
  const u16 = () => { need(2); const v = view.getUint16(p, true); p += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(data.length)) throw badFormat(where, `a length of ${v} bytes runs past the end of the pickle`);
    return Number(v);
  };
  const bytes = (n: number) => { need(n); const b = data.subarray(p, p + n); p += n; return b; };
  const utf8 = (n: number) => new TextDecoder().decode(bytes(n));
  // one byte per character, decoded in one call: each byte widened to a UTF-16 unit (a string built a
  // character at a time costs gigabytes; TextDecoder's 'latin1' is windows-1252, not Latin-1)
  const latin1 = (n: number) => new TextDecoder('utf-16le').decode(new Uint16Array(bytes(n)));
  const line = () => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw badFormat(where, 'the pickle is truncated inside a GLOBAL');
    const s = new TextDecoder().decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = (): Value => {
    if (stack.length === 0) throw badFormat(where, `stack underflow at byte ${p - 1}`);
    return stack.pop();
  };
  const top = (): Value => {
    if (stack.length === 0) throw badFormat(where, `stack underflow at byte ${p - 1}`);
    return stack[stack.length - 1];
  };
  /** Pop everything down to the last MARK (and the MARK). */
  const popMark = (): Value[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw badFormat(where, `no MARK on the stack at byte ${p - 1}`);
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const asMap = (v: Value): Map<Value, Value> => {
    if (!(v instanceof Map)) throw badFormat(where, `SETITEM on something that is not a dict at byte ${p - 1}`);
    return v;
  };
  const asList = (v: Value): Value[] => {
    if (!Array.isArray(v)) throw badFormat(where, `APPEND on something that is not a list at byte ${p - 1}`);
    return v;
  };
  const get = (i: number) => {
    if (!memo.has(i)) throw badFormat(where, `memo entry ${i} is read before it is written`);
    return memo.get(i);
  };
  const long = (n: number) => {
    if (n > MAX_LONG_BYTES) throw badFormat(where, `an integer of ${n} bytes at byte ${p}: too large`);
    return signedLE(bytes(n));
  };
  let items = 0;
  /** Count `n` more items put into containers. */
  const added = <T>(n: number, value: T): T => {
    items += n;
    if (items > MAX_ITEMS) throw badFormat(where, `the pickle puts more than ${MAX_ITEMS} items into lists, tuples and dicts`);
    return value;
  };
  const signedLE = (b: Uint8Array) => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw badFormat(where, 'an integer is too large');
    return Number(v);
  };

  for (;;) {
    if (stack.length > MAX_STACK) throw badFormat(where, `the pickle's stack grew past ${MAX_STACK} items`);
    if (memo.size > MAX_MEMO) throw badFormat(where, `the pickle's memo grew past ${MAX_MEMO} items`);
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        const result = pop();
        return toStateDict(result, where);
      }
      case 0x28: stack.push(MARK); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: { need(4); stack.push(view.getInt32(p, true)); p += 4; break; } // BININT
      case 0x8a: stack.push(long(u8())); break; // LONG1
      case 0x8b: stack.push(long(u32())); break; // LONG4
      case 0x47: { need(8); stack.push(view.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(u64())); break; // BINUNICODE8
      case 0x54: stack.push(latin1(u32())); break; // BINSTRING
      case 0x55: stack.push(latin1(u8())); break; // SHORT_BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x74: { const t = popMark(); stack.push(added(t.length, t)); break; } // TUPLE
      case 0x85: stack.push(added(1, [pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(added(2, [a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(added(3, [a, b, c])); break; } // TUPLE3
      case 0x6c: { const l = popMark(); stack.push(added(l.length, l)); break; } // LIST
      case 0x61: { const v = pop(); asList(top()).push(added(1, v)); break; } // APPEND
      case 0x65: { const vs = popMark(); const list = asList(top()); added(vs.length, null); for (const v of vs) list.push(v); break; } // APPENDS
      case 0x64: { // DICT
        const kvs = popMark();
        const m = new Map<Value, Value>();
        added(kvs.length, null);
        for (let i = 0; i + 1 < kvs.length; i += 2) m.set(kvs[i], kvs[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); asMap(top()).set(k, added(2, v)); break; } // SETITEM
      case 0x75: { // SETITEMS
        const kvs = popMark();
        const m = asMap(top());
        added(kvs.length, null);
        for (let i = 0; i + 1 < kvs.length; i += 2) m.set(kvs[i], kvs[i + 1]);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(get(u8())); break; // BINGET
      case 0x6a: stack.push(get(u32())); break; // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x63: { const module = line(); const name = line(); stack.push(resolveGlobal(module, name, where)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw badFormat(where, 'STACK_GLOBAL without string names');
        stack.push(resolveGlobal(module, name, where));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args, where)); break; } // REDUCE
      case 0x62: { // BUILD: only an OrderedDict's attributes (torch's `_metadata`), which are ignored
        const state = pop();
        if (!(top() instanceof Map) || !(state instanceof Map || state === null)) throw unsafe(`${where}: BUILD on something other than a dict at byte ${at}`);
        break;
      }
      case 0x51: stack.push(persistentLoad(pop(), where)); break; // BINPERSID
      case 0x69: case 0x6f: case 0x81: case 0x92: case 0x82: case 0x83: case 0x84: case 0x50:
        // INST, OBJ, NEWOBJ, NEWOBJ_EX build arbitrary objects; EXT1/2/4 reach a registry; PERSID is text
        throw unsafe(`${where}: pickle opcode 0x${op.toString(16)} at byte ${at} builds objects a state dict never needs; refusing it`);
      default:
        throw badFormat(where, `unsupported pickle opcode 0x${op.toString(16)} at byte ${at}`);
    }
  }
}

/** The unpickled object must be a dict of tensor references, keyed by name. */
function toStateDict(result: Value, where: string): Map<string, TensorRef> {
  if (!(result instanceof Map)) throw badFormat(where, 'the pickle does not hold a dict of tensors (a state dict)');
  const out = new Map<string, TensorRef>();
  for (const [k, v] of result) {
    if (typeof k !== 'string') throw badFormat(where, `a state dict key is not a string: ${preview(k)}`);
    if (typeof v !== 'object' || v === null || (v as TensorRef).kind !== 'tensor') throw badFormat(where, `"${k}" is not a tensor`);
    out.set(k, v as TensorRef);
  }
  return out;
}
