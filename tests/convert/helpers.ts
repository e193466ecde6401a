// Test helpers: writable copies of fixture checkpoints, rewritten safetensors files, converted outputs.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint, openFile, readSafetensorsFile } from '../../src/convert/checkpoint.js';
import { SafetensorsWriter } from '../../src/convert/safetensors-writer.js';
import { readBimambaHeader, type BimambaHeader } from '../../src/format/bimamba.js';
import { toFloat32 } from '../../src/format/dtype.js';
import { checkpointDir } from '../util/fixtures.js';
export { rejection } from '../util/errors.js';

/** Copy a fixture checkpoint into `dir` as ordinary writable files (the originals are read-only). */
export async function copyFixture(name: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(checkpointDir(name))) await writeFile(join(dir, f), await readFile(join(checkpointDir(name), f)));
  return dir;
}

/** Edit a checkpoint's config.json in place. */
export async function editConfig(dir: string, edit: (c: Record<string, any>) => void): Promise<void> {
  const c = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  edit(c);
  await writeFile(join(dir, 'config.json'), JSON.stringify(c));
}

export interface RawTensor { name: string; dtype: string; shape: number[]; bytes: Uint8Array }

/** All tensors of a safetensors file, bytes included. */
export async function readAllSafetensors(path: string): Promise<RawTensor[]> {
  const file = await openFile(path);
  try {
    const out: RawTensor[] = [];
    for (const [name, t] of await readSafetensorsFile(file, path)) out.push({ name, dtype: t.dtype, shape: t.shape, bytes: await t.read() });
    return out;
  } finally {
    await file.close();
  }
}

export async function writeSafetensors(path: string, tensors: RawTensor[]): Promise<void> {
  const w = await SafetensorsWriter.create(path, tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), {});
  for (const t of tensors) await w.write(t.name, t.bytes);
  await w.finish();
}

/** A checkpoint's tensors decoded to f32, by checkpoint name. */
export async function sourceTensors(dir: string): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const ckpt = await openCheckpoint(dir);
  try {
    const out = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [name, t] of ckpt.tensors) out.set(name, { shape: t.shape, values: toFloat32(await t.read(), t.dtype, name) });
    return out;
  } finally {
    await ckpt.close();
  }
}

/** A converted file: its header and each tensor's bytes. */
export async function readConverted(path: string): Promise<{ header: BimambaHeader; tensor: (name: string) => Uint8Array; f32: (name: string) => Float32Array }> {
  const bytes = new Uint8Array(await readFile(path));
  const header = readBimambaHeader(bytes, { fileSize: bytes.length });
  const tensor = (name: string) => {
    const t = header.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`no tensor ${name}`);
    return bytes.slice(header.dataStart + t.begin, header.dataStart + t.end);
  };
  return { header, tensor, f32: (name) => new Float32Array(tensor(name).buffer) };
}

