import { describe, expect, it } from 'vitest';
import { BimambaError } from '../../src/errors.js';
import { unpickleStateDict } from '../../src/format/pickle.js';
import { readTorchCheckpoint } from '../../src/format/torch.js';
import { bytesSource } from '../../src/format/zip.js';
import { f32Bytes, PickleWriter, randomF32, stateDictPickle, torchZip } from './torch-bytes.js';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(BimambaError);
    return `${(e as BimambaError).code}: ${(e as Error).message}`;
  }
  throw new Error('expected an error');
}

describe('restricted unpickler', () => {
  it('refuses os.system, naming it, and never gets as far as calling it', async () => {
    // The classic payload: os.system("touch pwned"), as GLOBAL + REDUCE.
    const hostile = new PickleWriter().proto().global('os', 'system').mark().str('touch pwned').tuple().reduce().stop().bytes();
    const msg = await codeOf(() => unpickleStateDict(hostile, 'evil.pkl'));
    expect(msg).toMatch(/^UNSAFE_PICKLE: /);
    expect(msg).toContain('"os.system"');
  });

  it('refuses builtins.eval named by STACK_GLOBAL', async () => {
    const hostile = new PickleWriter().proto().str('builtins').str('eval').op(0x93).mark().str('1+1').tuple().reduce().stop().bytes();
    expect(await codeOf(() => unpickleStateDict(hostile, 'x'))).toMatch(/^UNSAFE_PICKLE: .*"builtins\.eval"/);
  });

  it('refuses a global hidden inside an otherwise valid state dict', async () => {
    const good = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [4], stride: [1] }]);
    // replace the OrderedDict global by subprocess.Popen: same structure, different global
    const text = new TextDecoder('latin1').decode(good).replace('collections\nOrderedDict\n', 'subprocess\nPopen\n');
    const hostile = Uint8Array.from(text, (c) => c.charCodeAt(0));
    expect(await codeOf(() => unpickleStateDict(hostile, 'x'))).toMatch(/^UNSAFE_PICKLE: .*"subprocess\.Popen"/);
  });

  it('refuses the object-building opcodes INST, OBJ, NEWOBJ and the extension registry', async () => {
    for (const op of [0x69, 0x6f, 0x81, 0x92, 0x82]) {
      const p = new PickleWriter().proto().mark().op(op).stop().bytes();
      expect(await codeOf(() => unpickleStateDict(p, 'x'))).toMatch(/^UNSAFE_PICKLE: .*opcode/);
    }
  });

  it('reports truncation and unknown opcodes as BAD_FORMAT', async () => {
    const good = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [4], stride: [1] }]);
    expect(await codeOf(() => unpickleStateDict(good.subarray(0, good.length - 30), 'x'))).toMatch(/^BAD_FORMAT: /);
    expect(await codeOf(() => unpickleStateDict(Uint8Array.of(0x80, 2, 0xff), 'x'))).toMatch(/^BAD_FORMAT: .*0xff/);
  });

  it('reads names, dtypes, shapes, strides, offsets and shared storages', () => {
    const refs = unpickleStateDict(stateDictPickle([
      { name: 'a', storageType: 'HalfStorage', key: '0', numel: 70, offset: 0, shape: [7, 10], stride: [10, 1] },
      { name: 'b', storageType: 'HalfStorage', key: '0', numel: 70, offset: 30, shape: [40], stride: [1] },
      { name: 'c', storageType: 'BFloat16Storage', key: '1', numel: 3, offset: 0, shape: [1, 3], stride: [3, 1] },
    ]), 'x');
    expect([...refs.keys()]).toEqual(['a', 'b', 'c']);
    expect(refs.get('a')).toMatchObject({ offset: 0, shape: [7, 10], stride: [10, 1], storage: { key: '0', dtype: 'F16', numel: 70 } });
    expect(refs.get('b')).toMatchObject({ offset: 30, shape: [40], storage: { key: '0', dtype: 'F16' } });
    expect(refs.get('c')!.storage.dtype).toBe('BF16');
  });
});

describe('torch zip checkpoints', () => {
  const values = randomF32(5 * 7, 11);

  it('reads tensors that are views into one storage, stored or deflated', async () => {
    const pickle = stateDictPickle([
      { name: 'whole', storageType: 'FloatStorage', key: '0', numel: 35, offset: 0, shape: [5, 7], stride: [7, 1] },
      { name: 'tail', storageType: 'FloatStorage', key: '0', numel: 35, offset: 13, shape: [2, 11], stride: [11, 1] },
    ]);
    for (const level of [0, 6] as const) {
      const zip = torchZip(pickle, { 0: f32Bytes(values) }, { level });
      const tensors = await readTorchCheckpoint(bytesSource(zip), 'm.bin');
      const whole = new Float32Array((await tensors.get('whole')!.read()).slice().buffer);
      const tail = new Float32Array((await tensors.get('tail')!.read()).slice().buffer);
      expect(whole).toEqual(values);
      expect(tail).toEqual(values.subarray(13, 35));
      expect(tensors.get('tail')!.shape).toEqual([2, 11]);
    }
  });

  it('refuses an archive whose pickle names os.system', async () => {
    const hostile = new PickleWriter().proto().global('os', 'system').mark().str('rm -rf ~').tuple().reduce().stop().bytes();
    const zip = torchZip(hostile, {});
    expect(await codeOf(readTorchCheckpoint(bytesSource(zip), 'm.bin'))).toMatch(/^UNSAFE_PICKLE: m\.bin: .*"os\.system"/);
  });

  it('refuses non-contiguous tensors with a clear error', async () => {
    const pickle = stateDictPickle([{ name: 'wT', storageType: 'FloatStorage', key: '0', numel: 35, offset: 0, shape: [7, 5], stride: [1, 7] }]);
    const msg = await codeOf(readTorchCheckpoint(bytesSource(torchZip(pickle, { 0: f32Bytes(values) })), 'm.bin'));
    expect(msg).toMatch(/^UNSUPPORTED: .*"wT".*not contiguous/);
  });

  it('refuses a tensor that reaches past its storage, and a missing storage', async () => {
    const past = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 35, offset: 30, shape: [6], stride: [1] }]);
    expect(await codeOf(readTorchCheckpoint(bytesSource(torchZip(past, { 0: f32Bytes(values) })), 'm.bin'))).toMatch(/^BAD_FORMAT: .*"w".*outside its storage/);
    const missing = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '9', numel: 35, offset: 0, shape: [35], stride: [1] }]);
    expect(await codeOf(readTorchCheckpoint(bytesSource(torchZip(missing, { 0: f32Bytes(values) })), 'm.bin'))).toMatch(/^BAD_FORMAT: .*storage "9" is missing/);
  });

  it('rejects the legacy format as UNSUPPORTED and other bytes as BAD_FORMAT', async () => {
    const legacy = Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e);
    expect(await codeOf(readTorchCheckpoint(bytesSource(legacy), 'old.bin'))).toMatch(/^UNSUPPORTED: .*legacy/);
    expect(await codeOf(readTorchCheckpoint(bytesSource(new TextEncoder().encode('hello world, not a model')), 'x.bin'))).toMatch(/^BAD_FORMAT: /);
  });

  it('reports a truncated archive', async () => {
    const pickle = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 35, offset: 0, shape: [35], stride: [1] }]);
    const zip = torchZip(pickle, { 0: f32Bytes(values) });
    expect(await codeOf(readTorchCheckpoint(bytesSource(zip.subarray(0, zip.length - 40)), 'm.bin'))).toMatch(/^BAD_FORMAT: .*(truncated|end-of-central-directory)/);
  });
});
