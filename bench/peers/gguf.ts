// A GGUF file (llama.cpp's model format) of architecture `mamba2` at the synthetic Bi-Mamba-780M's shape,
// with random weights, for running the same shape in llama.cpp-based peers. Layout (gguf-py, ggml-common.h):
//   "GGUF", u32 version 3, u64 tensor count, u64 key/value count; the key/values; per tensor its name,
//   u32 dims, u64 ne[dims] (ne0 = the contiguous axis, a row's length), u32 ggml type, u64 offset into
//   the data; padding to 32 bytes; the data, every tensor at a 32-byte-aligned offset.
// Quantized tensors are rows of blocks; random packed bits with a sane f16 scale need no quantizer:
//   Q4_0  (type 2):  32 values in 18 bytes: f16 d, 16 bytes of nibbles, value = (q - 8) * d
//   Q1_0  (type 41): 128 values in 18 bytes: f16 d, 16 bytes of bits, value = bit ? +d : -d
//   TQ1_0 (type 34): 256 values in 54 bytes: 48 + 4 bytes of base-3 packed trits, f16 d
//   TQ2_0 (type 35): 256 values in 66 bytes: 64 bytes of 2-bit trits (0, 1, 2 = -1, 0, +1), f16 d
//   Q6_K  (type 14): 256 values in 210 bytes: 128 + 64 bytes of 6-bit quants, 16 int8 scales, f16 d
//   (Q6_K is what llama.cpp's quantizer gives a tied embedding / output tensor by default.)
import { closeSync, openSync, writeSync } from 'node:fs';
import { f32ToF16 } from '../../src/format/dtype.js';
import { bits32 } from '../../tests/util/rng.js';

export type BlockType = 'Q1_0' | 'TQ1_0' | 'TQ2_0' | 'Q4_0';

interface TypeInfo { id: number; values: number; bytes: number }
const TYPES: Record<BlockType | 'F32' | 'Q6_K', TypeInfo> = {
  F32: { id: 0, values: 1, bytes: 4 },
  Q4_0: { id: 2, values: 32, bytes: 18 },
  Q6_K: { id: 14, values: 256, bytes: 210 },
  TQ1_0: { id: 34, values: 256, bytes: 54 },
  TQ2_0: { id: 35, values: 256, bytes: 66 },
  Q1_0: { id: 41, values: 128, bytes: 18 },
};

/** The 780M shape (tests/util/synthetic-model.ts). */
export const SHAPE = { d_model: 1536, n_layer: 48, vocab: 32000, d_inner: 3072, d_state: 128, n_head: 48, d_conv: 4, n_group: 1 };

interface Tensor { name: string; ne: number[]; type: keyof typeof TYPES; fill: (out: Uint8Array, seed: number) => void }

const ALIGN = 32;

class Bytes {
  parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void { this.parts.push(b); this.length += b.length; }
  u32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.push(b); }
  i32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.push(b); }
  u64(v: number): void { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.push(b); }
  f32(v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  str(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.push(b); }
}

// GGUF value types
const U32 = 4, I32 = 5, F32 = 6, STRING = 8, ARRAY = 9;

type Value = { u32: number } | { f32: number } | { str: string } | { strs: string[] } | { f32s: Float32Array } | { i32s: Int32Array };

function writeValue(b: Bytes, v: Value): void {
  if ('u32' in v) { b.u32(U32); b.u32(v.u32); }
  else if ('f32' in v) { b.u32(F32); b.f32(v.f32); }
  else if ('str' in v) { b.u32(STRING); b.str(v.str); }
  else if ('strs' in v) { b.u32(ARRAY); b.u32(STRING); b.u64(v.strs.length); for (const s of v.strs) b.str(s); }
  else if ('f32s' in v) { b.u32(ARRAY); b.u32(F32); b.u64(v.f32s.length); b.push(new Uint8Array(v.f32s.buffer.slice(0))); }
  else { b.u32(ARRAY); b.u32(I32); b.u64(v.i32s.length); b.push(new Uint8Array(v.i32s.buffer.slice(0))); }
}

/** A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then plain pieces. */
function vocabulary(n: number): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types = new Int32Array(n).fill(1); // normal
  types[0] = 2; types[1] = 3; types[2] = 3; // unknown, control
  for (let i = 0; i < 256; i++) { types[tokens.length] = 6; tokens.push(`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`); }
  while (tokens.length < n) tokens.push(`\u2581t${tokens.length}`);
  const scores = Float32Array.from({ length: n }, (_, i) => -i);
  return { tokens, scores, types };
}

function f32Tensor(values: (i: number) => number) {
  return (out: Uint8Array) => {
    const f = new Float32Array(out.buffer, out.byteOffset, out.length / 4);
    for (let i = 0; i < f.length; i++) f[i] = values(i);
  };
}

/** Random blocks of a quantized type with the f16 scale `d` (and, for Q6_K, small int8 sub-scales). */
function blocks(type: keyof typeof TYPES, d: number) {
  const info = TYPES[type];
  const half = f32ToF16(d);
  return (out: Uint8Array, seed: number) => {
    const next = bits32(seed);
    const words = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
    for (let i = 0; i < words.length; i++) words[i] = next();
    for (let i = words.length * 4; i < out.length; i++) out[i] = next() & 255;
    for (let at = 0; at < out.length; at += info.bytes) {
      if (type === 'Q4_0' || type === 'Q1_0') { out[at] = half & 255; out[at + 1] = half >> 8; }
      else if (type === 'TQ2_0') {
        for (let j = 0; j < 64; j++) { let v = out[at + j]; for (let s = 0; s < 8; s += 2) if (((v >> s) & 3) === 3) v &= ~(1 << s); out[at + j] = v; }
        out[at + 64] = half & 255; out[at + 65] = half >> 8;
      } else if (type === 'TQ1_0') { out[at + 52] = half & 255; out[at + 53] = half >> 8; }
      else if (type === 'Q6_K') {
        for (let j = 0; j < 16; j++) out[at + 192 + j] = 1 + (out[at + 192 + j] & 7);
        out[at + 208] = half & 255; out[at + 209] = half >> 8;
      }
    }
  };
}

function tensorBytes(t: Tensor): number {
  const info = TYPES[t.type];
  if (t.ne[0] % info.values) throw new Error(`${t.name}: a row of ${t.ne[0]} is not whole ${t.type} blocks`);
  return (t.ne.reduce((a, b) => a * b, 1) / info.values) * info.bytes;
}

/** Write the model with `type` for every ssm_in / ssm_out; returns the file size. */
export function writeMamba2Gguf(path: string, type: BlockType): number {
  const s = SHAPE;
  const convDim = s.d_inner + 2 * s.n_group * s.d_state;
  const inProj = 2 * s.d_inner + 2 * s.n_group * s.d_state + s.n_head;
  // scales: a weight's spread ~ 1 / sqrt(fan-in), as the .bimamba synthetic models
  const d1 = (k: number) => 1 / Math.sqrt(k);
  const scale = (t: BlockType, k: number) => (t === 'Q4_0' ? d1(k) / 4.6 : t === 'Q1_0' ? d1(k) : d1(k) * 1.2);
  const tensors: Tensor[] = [
    { name: 'token_embd.weight', ne: [s.d_model, s.vocab], type: 'Q6_K', fill: blocks('Q6_K', 1e-3) },
    { name: 'output_norm.weight', ne: [s.d_model], type: 'F32', fill: f32Tensor(() => 1) },
  ];
  for (let l = 0; l < s.n_layer; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      { name: p + 'attn_norm.weight', ne: [s.d_model], type: 'F32', fill: f32Tensor(() => 1) },
      { name: p + 'ssm_in.weight', ne: [s.d_model, inProj], type, fill: blocks(type, scale(type, s.d_model)) },
      { name: p + 'ssm_conv1d.weight', ne: [s.d_conv, convDim], type: 'F32', fill: f32Tensor((i) => ((i * 7919) % 101) / 200 - 0.25) },
      { name: p + 'ssm_conv1d.bias', ne: [convDim], type: 'F32', fill: f32Tensor(() => 0) },
      { name: p + 'ssm_dt.bias', ne: [s.n_head], type: 'F32', fill: f32Tensor((i) => -4 + (i % 8) / 4) },
      { name: p + 'ssm_a', ne: [1, s.n_head], type: 'F32', fill: f32Tensor((i) => -(1 + (i % 16))) },
      { name: p + 'ssm_d', ne: [1, s.n_head], type: 'F32', fill: f32Tensor(() => 1) },
      { name: p + 'ssm_norm.weight', ne: [s.d_inner / s.n_group, s.n_group], type: 'F32', fill: f32Tensor(() => 1) },
      { name: p + 'ssm_out.weight', ne: [s.d_inner, s.d_model], type, fill: blocks(type, scale(type, s.d_inner)) },
    );
  }
  const vocab = vocabulary(s.vocab);
  const kv: [string, Value][] = [
    ['general.architecture', { str: 'mamba2' }],
    ['general.name', { str: `bimamba-780m-shape-${type}` }],
    ['general.alignment', { u32: ALIGN }],
    ['mamba2.context_length', { u32: 1 << 20 }],
    ['mamba2.embedding_length', { u32: s.d_model }],
    ['mamba2.block_count', { u32: s.n_layer }],
    ['mamba2.feed_forward_length', { u32: 0 }],
    ['mamba2.attention.head_count', { u32: s.n_head }], // older loaders take n_head from here
    ['mamba2.attention.layer_norm_rms_epsilon', { f32: 1e-5 }],
    ['mamba2.ssm.conv_kernel', { u32: s.d_conv }],
    ['mamba2.ssm.inner_size', { u32: s.d_inner }],
    ['mamba2.ssm.state_size', { u32: s.d_state }],
    ['mamba2.ssm.time_step_rank', { u32: s.n_head }],
    ['mamba2.ssm.group_count', { u32: s.n_group }],
    ['tokenizer.ggml.model', { str: 'llama' }],
    ['tokenizer.ggml.tokens', { strs: vocab.tokens }],
    ['tokenizer.ggml.scores', { f32s: vocab.scores }],
    ['tokenizer.ggml.token_type', { i32s: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { u32: 1 }],
    ['tokenizer.ggml.eos_token_id', { u32: 2 }],
    ['tokenizer.ggml.unknown_token_id', { u32: 0 }],
  ];
  const head = new Bytes();
  head.push(new TextEncoder().encode('GGUF'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kv.length);
  for (const [k, v] of kv) { head.str(k); writeValue(head, v); }
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.ne.length);
    for (const n of t.ne) head.u64(n);
    head.u32(TYPES[t.type].id);
    head.u64(offset);
    offset += Math.ceil(tensorBytes(t) / ALIGN) * ALIGN;
  }
  const fd = openSync(path, 'w');
  try {
    for (const p of head.parts) writeSync(fd, p);
    writeSync(fd, new Uint8Array((ALIGN - (head.length % ALIGN)) % ALIGN));
    let size = Math.ceil(head.length / ALIGN) * ALIGN;
    tensors.forEach((t, i) => {
      const n = tensorBytes(t);
      const buf = new Uint8Array(Math.ceil(n / ALIGN) * ALIGN);
      t.fill(buf.subarray(0, n), 1 + i);
      writeSync(fd, buf);
      size += buf.length;
    });
    return size;
  } finally {
    closeSync(fd);
  }
}
