// Re-stores the embedding / LM head of a .bimamba file in 4 bits (`--head q4`), for a model whose
// checkpoint is not at hand (the built-in model's f32 checkpoint is not in the repository). The head
// is read back to f32 (an int8 or f16 head: its stored values, not the checkpoint's) and quantized as
// `bimamba convert --head q4` would; every other tensor, the config and the tokenizer are copied.
//
//   npx tsx scripts/requantize-head.ts IN.bimamba OUT.bimamba
import { readFile } from 'node:fs/promises';
import { toFloat32 } from '../src/format/dtype.js';
import { FORMAT_VERSION_Q4, readBimambaHeader } from '../src/format/bimamba.js';
import { CHECKSUMS_KEY } from '../src/format/checksums.js';
import { headScaleName, headTensors, modelTensorSpecs } from '../src/format/tensors.js';
import { quantizeRowsQ4 } from '../src/convert/quantize.js';
import { SafetensorsWriter } from '../src/convert/safetensors-writer.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: npx tsx scripts/requantize-head.ts IN.bimamba OUT.bimamba');
  process.exit(2);
}
const bytes = new Uint8Array(await readFile(input));
const header = readBimambaHeader(bytes, { fileSize: bytes.length, where: input });
const stored = new Map(header.tensors.map((t) => [t.name, bytes.slice(header.dataStart + t.begin, header.dataStart + t.end)]));
const dtypeOf = new Map(header.tensors.map((t) => [t.name, t.dtype]));

/** The head `name` [rows, cols] as f32, from an F32, F16 or I8 (+ scale) tensor. */
function headValues(name: string, rows: number, cols: number): Float32Array {
  const dtype = dtypeOf.get(name)!;
  if (dtype === 'F32' || dtype === 'F16') return toFloat32(stored.get(name)!, dtype, name);
  if (dtype !== 'I8') throw new Error(`${input}: tensor "${name}" is ${dtype}; this script reads F32, F16 or I8 heads`);
  const q = new Int8Array(stored.get(name)!.buffer);
  const scale = new Float32Array(stored.get(headScaleName(name))!.buffer);
  return Float32Array.from(q, (v, i) => scale[Math.floor(i / cols)] * v);
}

const plans = [];
const data = new Map<string, Uint8Array>();
for (const spec of modelTensorSpecs(header.config)) {
  if (spec.category !== 'head') {
    plans.push({ name: spec.name, dtype: dtypeOf.get(spec.name)!, shape: spec.shape });
    data.set(spec.name, stored.get(spec.name)!);
    continue;
  }
  const [rows, cols] = spec.shape;
  const [values, scale] = headTensors(spec, 'q4');
  const q = quantizeRowsQ4(headValues(spec.name, rows, cols), rows, cols);
  plans.push(values, scale);
  data.set(values.name, q.packed);
  data.set(scale.name, new Uint8Array(q.scale.buffer));
}
const source = JSON.parse(header.metadata.source ?? '{}');
const metadata = {
  ...header.metadata,
  format_version: FORMAT_VERSION_Q4,
  source: JSON.stringify({ ...source, head: 'q4', requantized: `from the stored ${source.head ?? ''} head` }),
};
delete metadata[CHECKSUMS_KEY]; // written anew
const writer = await SafetensorsWriter.create(output, plans, metadata, { align: 64, checksums: true });
for (const p of plans) await writer.write(p.name, data.get(p.name)!);
await writer.finish();
console.log(`${output}: ${writer.fileBytes} bytes (q4 head, from ${input})`);
