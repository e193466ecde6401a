// Fast 1-bit GEMV/GEMM: integer activations and lookup tables (T-MAC style) over the 16x8 tile layout
// of onebit.ts (assembly/README.md, "1-bit weights"). The exact f32 kernels stay in onebit.ts.
//
//   y[t,n] = Σ_k s[n,k] * xs[t,k] + c[t],   xs = alpha * x,   c = Σ_k beta[k] * x[t,k],   s = ±1
//
// Two variants, one code: the type E of a table entry is the only thing that differs (as ggml makes its
// variants a table of data), and every size and branch below follows from sizeof<E>() at compile time.
//   E = i16 (onebit_fast_*, the default): 12-bit activations, |q| <= 2047; an entry is two byte planes.
//   E = i8 (onebit_fast8_*, `activationBits: 8`): |q| <= 31, so that four sum within a byte; one byte
//     plane: one lookup a group for 16 rows where i16 entries need two, and a batch's entry of 16 tokens
//     is one load. 12 bits is the default: Mamba's activations are heavy-tailed, and 8-bit tables move
//     the Bi-Mamba fixture's logits by 12% of the largest (12 bits: 0.2%).
//
// 1. Quantize (quantize.ts). xs is split into blocks of 256 columns; in block b, step_b = max|xs| / LEVELS
//    and q[k] = round(xs[k] / step_b), an integer in [-LEVELS, LEVELS] (round half to even).
// 2. Tables. For each group g of 4 columns the 16 signed sums E_g[m] = Σ_j (bit j of m ? +q : -q)[4g+j]
//    are exact integers with |E| <= 4 * LEVELS: 8188 (an i16) or 124 (an i8).
// 3. Accumulate. A pair of tiles (4 groups) adds up in i16, widened and added in i32 over a block, converted
//    to f32, times step_b, and added up in f32; finally c. i16 entries: a pair is at most 4*8188 = 32752,
//    below 2^15, so the i16 sums are widened after each pair. i8 entries: a whole block stays in i16 (at
//    most 64*124 = 7936) and is widened once. Integer sums are exact, so a token gets the same bits alone,
//    in a batch of 16, in any chunking, on any threads.
//
// Error against the exact kernel: every q is within half a step of xs / step_b, so
//   |y_fast - y_exact| <= Σ_k step_b(k) / 2 = Σ_b (size of block b) * step_b / 2 <= K * max|xs| / (2 LEVELS),
// plus f32 rounding (about 1e-6 of the row's size); a block whose largest |xs| is below 2^-100 counts
// as 0. For random signs the error is typically sqrt(Σ_b size_b * step_b^2 / 12), far below the bound.
//
// Scratch: *_prepare writes it, *_rows reads it (so that threads can share one prepared scratch and split
// the rows). Token t owns TOKEN = tokenBytes(K) bytes at scratch + t*TOKEN (a multiple of 64, so every
// token's part stays aligned). Kp = paddedK(K), blocks = ceil(K/256), P = sizeof<E>() (byte planes).
//
//   Token layout, for the tokens past the last whole batch of 16 (decoding is one such token):
//     Kp/4 tables of 16*P bytes, group g at 16*P*g: the 16 entries' low bytes, then (i16) their high
//       bytes (i8x16.swizzle by a tile's 16 nibbles fetches one plane for 16 rows at once; interleaving
//       the two planes rebuilds the i16 entries of rows 0-7 and rows 8-15);
//     then the f32 step of each block, then c.
//   Batch layout, for tokens t0..t0+15 with t0 a multiple of 16, in the 16*TOKEN bytes from
//   scratch + t0*TOKEN (a row's nibble picks one entry, which holds all 16 tokens):
//     Kp/4 tables of 256*P bytes, group g at 256*P*g: entry m at 16*P*m is 16 values of E, token t0+j
//       at P*j;
//     then at 16 * tablesBytes(K) the steps, [block][16 tokens] f32 (64 bytes a block), then c
//       [16 tokens] f32.

import { roundSmall, storeLanes, dot } from './simd';
import { paddedK, blockCount, values4, value1, quantizeBlock, BLOCK_COLS } from './quantize';

const TILES_PER_BLOCK: i32 = BLOCK_COLS / 8;
const CHUNK_BLOCKS: i32 = 4; // batch path: blocks of columns (1024) done for all rows before the next
const BATCH: i32 = 16; // tokens of a batch

/** Largest |q| of entry type E: four of them sum within an E. */
@inline function levels<E>(): f32 {
  return sizeof<E>() == 2 ? 2047 : 31;
}

/** Bytes of one token's tables in the token layout (the batch layout's are 16 times that). */
@inline function tablesBytes<E>(K: i32): usize {
  return <usize>(paddedK(K) >> 2) * (16 * sizeof<E>());
}

/** Bytes of scratch one token needs (see the top of the file). */
@inline function tokenBytes<E>(K: i32): i32 {
  const bytes = <i32>tablesBytes<E>(K) + 4 * (blockCount(K) + 1);
  return (bytes + 63) & ~63;
}

@inline function swizzle(table: v128, index: v128): v128 {
  // indices are nibbles (< 16), where the relaxed form is defined and maps to one pshufb
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, index);
  return i8x16.swizzle(table, index);
}

/**
 * One group's table from its 4 quantized inputs (i32 lanes of q): entry m is ±q0 ±q1 ±q2 ±q3, + where
 * bit j of m is set. Returns ±q0 ±q1 ±q2 for m = 0..7 (i16x8); entries 0..7 are that minus q3, entries
 * 8..15 that plus q3 (splatQ3).
 */
@inline function lowSums(q: v128): v128 {
  const q16 = i16x8.narrow_i32x4_s(q, q); // [q0 q1 q2 q3 q0 q1 q2 q3]
  const q0 = v128.shuffle<i16>(q16, q16, 0, 0, 0, 0, 0, 0, 0, 0);
  const q1 = v128.shuffle<i16>(q16, q16, 1, 1, 1, 1, 1, 1, 1, 1);
  const q2 = v128.shuffle<i16>(q16, q16, 2, 2, 2, 2, 2, 2, 2, 2);
  return i16x8.add(
    i16x8.add(i16x8.mul(q0, i16x8(-1, 1, -1, 1, -1, 1, -1, 1)), i16x8.mul(q1, i16x8(-1, -1, 1, 1, -1, -1, 1, 1))),
    i16x8.mul(q2, i16x8(-1, -1, -1, -1, 1, 1, 1, 1)),
  );
}

@inline function splatQ3(q: v128): v128 {
  return i16x8.splat(<i16>i32x4.extract_lane(q, 3));
}

/** Token layout: the table at dst, as its byte planes (i16: low bytes, then high bytes; i8: the entries). */
@inline function writeTable<E>(dst: usize, q: v128): void {
  const low3 = lowSums(q), q3 = splatQ3(q);
  const e0 = i16x8.sub(low3, q3), e1 = i16x8.add(low3, q3); // entries 0..7, 8..15
  if (sizeof<E>() == 1) {
    store<v128>(dst, i8x16.narrow_i16x8_s(e0, e1)); // |entry| <= 124
    return;
  }
  store<v128>(dst, i8x16.shuffle(e0, e1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), 0);
  store<v128>(dst, i8x16.shuffle(e0, e1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), 16);
}

/** Batch layout: entry m of token `lane` (of 16) as the E at dst + 16*P*m + P*lane. */
@inline function writeTableLane<E>(dst: usize, q: v128, lane: i32): void {
  const low3 = lowSums(q), q3 = splatQ3(q);
  const e0 = i16x8.sub(low3, q3), e1 = i16x8.add(low3, q3); // entries 0..7, 8..15
  if (sizeof<E>() == 1) {
    const e = i8x16.narrow_i16x8_s(e0, e1), at = dst + <usize>lane;
    v128.store8_lane(at, e, 0, 0); v128.store8_lane(at, e, 1, 16); v128.store8_lane(at, e, 2, 32); v128.store8_lane(at, e, 3, 48);
    v128.store8_lane(at, e, 4, 64); v128.store8_lane(at, e, 5, 80); v128.store8_lane(at, e, 6, 96); v128.store8_lane(at, e, 7, 112);
    v128.store8_lane(at, e, 8, 128); v128.store8_lane(at, e, 9, 144); v128.store8_lane(at, e, 10, 160); v128.store8_lane(at, e, 11, 176);
    v128.store8_lane(at, e, 12, 192); v128.store8_lane(at, e, 13, 208); v128.store8_lane(at, e, 14, 224); v128.store8_lane(at, e, 15, 240);
    return;
  }
  const at = dst + (<usize>lane << 1);
  v128.store16_lane(at, e0, 0, 0); v128.store16_lane(at, e0, 1, 32); v128.store16_lane(at, e0, 2, 64); v128.store16_lane(at, e0, 3, 96);
  v128.store16_lane(at, e0, 4, 128); v128.store16_lane(at, e0, 5, 160); v128.store16_lane(at, e0, 6, 192); v128.store16_lane(at, e0, 7, 224);
  v128.store16_lane(at, e1, 0, 256); v128.store16_lane(at, e1, 1, 288); v128.store16_lane(at, e1, 2, 320); v128.store16_lane(at, e1, 3, 352);
  v128.store16_lane(at, e1, 4, 384); v128.store16_lane(at, e1, 5, 416); v128.store16_lane(at, e1, 6, 448); v128.store16_lane(at, e1, 7, 480);
}

/**
 * Quantize one token and write its tables, block steps and c. lane < 0: token layout at `base`;
 * otherwise token `lane` of the 16-token batch at `base` (layouts at the top of the file).
 */
function prepareToken<E>(base: usize, lane: i32, x: usize, alpha: usize, beta: usize, K: i32): void {
  const GROUP_TABLE_BYTES: usize = 16 * sizeof<E>(); // token layout: one group's table
  const BATCH_GROUP_BYTES: usize = 256 * sizeof<E>(); // batch layout: one group's table
  const Kp = paddedK(K);
  const blocks = blockCount(K);
  const batch = lane >= 0;
  const steps = batch ? base + <usize>BATCH * tablesBytes<E>(K) + (<usize>lane << 2) : base + tablesBytes<E>(K);
  const stepStride: usize = batch ? <usize>BATCH * 4 : 4;
  for (let b = 0; b < blocks; b++) {
    const k0 = b * BLOCK_COLS;
    const k1 = min(K, k0 + BLOCK_COLS);
    const inv = f32x4.splat(quantizeBlock(x, alpha, k0, k1, levels<E>(), steps + <usize>b * stepStride));
    const gEnd = b == blocks - 1 ? Kp : k1; // the last block also covers the padding columns
    for (let k = k0; k < gEnd; k += 4) {
      let xs: v128;
      if (k + 4 <= K) xs = values4(x, alpha, k);
      else xs = f32x4(value1(x, alpha, k, K), value1(x, alpha, k + 1, K), value1(x, alpha, k + 2, K), value1(x, alpha, k + 3, K));
      const q = roundSmall(f32x4.mul(xs, inv)); // |xs * inv| <= LEVELS (NaN, inf: the step carries them)
      if (batch) writeTableLane<E>(base + <usize>(k >> 2) * BATCH_GROUP_BYTES, q, lane);
      else writeTable<E>(base + <usize>(k >> 2) * GROUP_TABLE_BYTES, q);
    }
  }
  store<f32>(steps + <usize>blocks * stepStride, dot(beta, x, K)); // c, summed as the exact kernel sums it
}

/** Quantize x[T, K] (rows `xStride` floats apart) and write the lookup tables of every token into scratch. */
function prepare<E>(scratch: usize, x: usize, alpha: usize, beta: usize, T: i32, K: i32, xStride: i32): void {
  const stride = <usize>tokenBytes<E>(K);
  const batched = T - T % BATCH;
  for (let t = 0; t < T; t++) {
    const xt = x + <usize>t * (<usize>xStride << 2);
    if (t < batched) prepareToken<E>(scratch + <usize>(t - t % BATCH) * stride, t % BATCH, xt, alpha, beta, K);
    else prepareToken<E>(scratch + <usize>t * stride, -1, xt, alpha, beta, K);
  }
}

/** i16 entries of rows 0-7 from one group's lookups: i16, interleave its low and high planes l, h; i8, widen l. */
@inline function rows0to7<E>(l: v128, h: v128): v128 {
  if (sizeof<E>() == 1) return i16x8.extend_low_i8x16_s(l);
  return i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

/** i16 entries of rows 8-15. */
@inline function rows8to15<E>(l: v128, h: v128): v128 {
  if (sizeof<E>() == 1) return i16x8.extend_high_i8x16_s(l);
  return i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

/**
 * One token, one row block (16 rows from n0), blocks b0 <= b < b1 of the columns: y[n0..n0+15]
 * (only rows below N written). tiles: the row block's first tile; tok: the token's prepared scratch
 * (token layout). Sums: i16 over a pair of tiles (i8 entries: over a block), i32 over a block, f32 over
 * blocks (see the top of the file).
 * A range of blocks that does not start at 0 continues the f32 sums left in y by the previous range;
 * one that does not end at the last block leaves its sums there (then `rows` must be 16).
 */
@inline function rowBlock<E>(y: usize, tiles: usize, tok: usize, K: i32, rows: i32, b0: i32, b1: i32): void {
  const PLANES = sizeof<E>();
  const G: usize = 16 * PLANES; // one group's table; its planes 16 bytes apart
  const tileCount = paddedK(K) >> 3;
  const steps = tok + tablesBytes<E>(K);
  const nibble = i8x16.splat(0x0f);
  // f32 sums of rows 0-3, 4-7, 8-11, 12-15
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  if (b0 > 0) {
    f0 = load<v128>(y, 0); f1 = load<v128>(y, 16); f2 = load<v128>(y, 32); f3 = load<v128>(y, 48);
  }
  let tile = tiles + (<usize>(b0 * TILES_PER_BLOCK) << 4);
  let table = tok + <usize>(b0 * TILES_PER_BLOCK) * 2 * G;
  for (let c0 = b0 * TILES_PER_BLOCK, b = b0; b < b1; c0 += TILES_PER_BLOCK, b++) {
    const c1 = min(tileCount, c0 + TILES_PER_BLOCK);
    let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
    let r0 = i16x8.splat(0), r1 = i16x8.splat(0); // i8 entries: i16 sums of rows 0-7, 8-15 over the block
    for (let cp = c0; cp < c1; cp += 2) {
      // tile cp: groups 2cp (low nibbles) and 2cp+1 (high nibbles); h is unused for i8 entries
      let bytes = load<v128>(tile);
      let index = v128.and(bytes, nibble);
      let l = swizzle(load<v128>(table), index), h = PLANES == 2 ? swizzle(load<v128>(table, 16), index) : l;
      let a0 = rows0to7<E>(l, h), a1 = rows8to15<E>(l, h); // rows 0-7, 8-15 of this pair of tiles
      index = v128.and(i16x8.shr_u(bytes, 4), nibble);
      l = swizzle(load<v128>(table, G), index);
      h = PLANES == 2 ? swizzle(load<v128>(table, G + 16), index) : l;
      a0 = i16x8.add(a0, rows0to7<E>(l, h));
      a1 = i16x8.add(a1, rows8to15<E>(l, h));
      if (cp + 1 < c1) {
        // tile cp+1
        bytes = load<v128>(tile, 16);
        index = v128.and(bytes, nibble);
        l = swizzle(load<v128>(table, 2 * G), index);
        h = PLANES == 2 ? swizzle(load<v128>(table, 2 * G + 16), index) : l;
        a0 = i16x8.add(a0, rows0to7<E>(l, h));
        a1 = i16x8.add(a1, rows8to15<E>(l, h));
        index = v128.and(i16x8.shr_u(bytes, 4), nibble);
        l = swizzle(load<v128>(table, 3 * G), index);
        h = PLANES == 2 ? swizzle(load<v128>(table, 3 * G + 16), index) : l;
        a0 = i16x8.add(a0, rows0to7<E>(l, h));
        a1 = i16x8.add(a1, rows8to15<E>(l, h));
      }
      if (PLANES == 2) {
        s0 = i32x4.add(s0, i32x4.extend_low_i16x8_s(a0));
        s1 = i32x4.add(s1, i32x4.extend_high_i16x8_s(a0));
        s2 = i32x4.add(s2, i32x4.extend_low_i16x8_s(a1));
        s3 = i32x4.add(s3, i32x4.extend_high_i16x8_s(a1));
      } else {
        r0 = i16x8.add(r0, a0);
        r1 = i16x8.add(r1, a1);
      }
      tile += 32;
      table += 4 * G;
    }
    if (PLANES == 1) {
      s0 = i32x4.extend_low_i16x8_s(r0); s1 = i32x4.extend_high_i16x8_s(r0);
      s2 = i32x4.extend_low_i16x8_s(r1); s3 = i32x4.extend_high_i16x8_s(r1);
    }
    const step = f32x4.splat(load<f32>(steps + (<usize>b << 2)));
    f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(s0), step));
    f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(s1), step));
    f2 = f32x4.add(f2, f32x4.mul(f32x4.convert_i32x4_s(s2), step));
    f3 = f32x4.add(f3, f32x4.mul(f32x4.convert_i32x4_s(s3), step));
  }
  if (b1 < blockCount(K)) {
    store<v128>(y, f0, 0); store<v128>(y, f1, 16); store<v128>(y, f2, 32); store<v128>(y, f3, 48);
    return;
  }
  const c = f32x4.splat(load<f32>(steps + (<usize>blockCount(K) << 2)));
  storeLanes(y, f32x4.add(f0, c), rows);
  storeLanes(y + 16, f32x4.add(f1, c), rows - 4);
  storeLanes(y + 32, f32x4.add(f2, c), rows - 8);
  storeLanes(y + 48, f32x4.add(f3, c), rows - 12);
}

/** Store lane j of v at p + j * stride for the first `count` lanes. */
@inline function storeStrided(p: usize, stride: usize, v: v128, count: i32): void {
  if (count > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p + stride, f32x4.extract_lane(v, 1));
  if (count > 2) store<f32>(p + 2 * stride, f32x4.extract_lane(v, 2));
  if (count > 3) store<f32>(p + 3 * stride, f32x4.extract_lane(v, 3));
}

/** Lanes j < count of v from p + j * stride (the others 0). */
@inline function loadStrided(p: usize, stride: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p + stride));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * stride));
  if (count > 3) v = f32x4.replace_lane(v, 3, load<f32>(p + 3 * stride));
  return v;
}

/** i16 values of tokens 0-7 from one batch entry's first 16 bytes a and (i16) next 16 bytes b. */
@inline function tokens0to7<E>(a: v128, b: v128): v128 {
  return sizeof<E>() == 1 ? i16x8.extend_low_i8x16_s(a) : a;
}

/** i16 values of tokens 8-15. */
@inline function tokens8to15<E>(a: v128, b: v128): v128 {
  return sizeof<E>() == 1 ? i16x8.extend_high_i8x16_s(a) : b;
}

/**
 * One row, one batch of 16 tokens, blocks b0 <= b < b1 of the columns: y[t, n] for the first
 * `tokens` tokens of the batch at `base`. rowBytes: the row's byte in the row block's first tile (its
 * nibbles; one tile every 16 bytes). Here the lookup is by the row's nibble into a table of 16 tokens:
 * one load fetches the entry of 8 tokens (i8 entries: of 16). The sums are grouped exactly as in
 * rowBlock, so a token gets the same bits either way. Block ranges continue and leave f32 sums in y as
 * in rowBlock.
 */
@inline function batchRow<E>(y: usize, yStride: usize, rowBytes: usize, base: usize, K: i32, tokens: i32, b0: i32, b1: i32): void {
  const PLANES = sizeof<E>();
  const ENTRY: usize = 16 * PLANES; // one entry: 16 tokens' E
  const G: usize = 16 * ENTRY; // one group's table
  const SHIFT: usize = 3 + PLANES; // log2(ENTRY)
  const tileCount = paddedK(K) >> 3;
  const steps = base + <usize>BATCH * tablesBytes<E>(K); // batch layout: [block][16 tokens] f32, then c
  // f32 sums of tokens 0-3, 4-7, 8-11, 12-15
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  if (b0 > 0) {
    f0 = loadStrided(y, yStride, tokens);
    f1 = loadStrided(y + 4 * yStride, yStride, tokens - 4);
    f2 = loadStrided(y + 8 * yStride, yStride, tokens - 8);
    f3 = loadStrided(y + 12 * yStride, yStride, tokens - 12);
  }
  let p = rowBytes + (<usize>(b0 * TILES_PER_BLOCK) << 4);
  let table = base + <usize>(b0 * TILES_PER_BLOCK) * 2 * G;
  for (let c0 = b0 * TILES_PER_BLOCK, b = b0; b < b1; c0 += TILES_PER_BLOCK, b++) {
    const c1 = min(tileCount, c0 + TILES_PER_BLOCK);
    let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
    let r0 = i16x8.splat(0), r1 = i16x8.splat(0); // i8 entries: i16 sums of tokens 0-7, 8-15 over the block
    for (let cp = c0; cp < c1; cp += 2) {
      // tile cp: the entries of groups 2cp and 2cp+1 for this row's two nibbles
      // entry m of a group is ENTRY bytes at ENTRY*m: the low nibble's offset is (bits << SHIFT) &
      // 15*ENTRY, the high nibble's (bits << (SHIFT - 4)) & 15*ENTRY; the group's own offset goes in the
      // loads' immediates; b is unused for i8 entries
      let bits = <usize>load<u8>(p);
      let e0 = table + ((bits << SHIFT) & (15 * ENTRY)), e1 = table + ((bits << (SHIFT - 4)) & (15 * ENTRY));
      let a = load<v128>(e0), b = PLANES == 2 ? load<v128>(e0, 16) : a;
      let lo = tokens0to7<E>(a, b), hi = tokens8to15<E>(a, b); // tokens 0-7, 8-15 of this pair of tiles
      a = load<v128>(e1, G);
      b = PLANES == 2 ? load<v128>(e1, G + 16) : a;
      lo = i16x8.add(lo, tokens0to7<E>(a, b));
      hi = i16x8.add(hi, tokens8to15<E>(a, b));
      if (cp + 1 < c1) {
        bits = <usize>load<u8>(p, 16);
        e0 = table + ((bits << SHIFT) & (15 * ENTRY));
        e1 = table + ((bits << (SHIFT - 4)) & (15 * ENTRY));
        a = load<v128>(e0, 2 * G);
        b = PLANES == 2 ? load<v128>(e0, 2 * G + 16) : a;
        lo = i16x8.add(lo, tokens0to7<E>(a, b));
        hi = i16x8.add(hi, tokens8to15<E>(a, b));
        a = load<v128>(e1, 3 * G);
        b = PLANES == 2 ? load<v128>(e1, 3 * G + 16) : a;
        lo = i16x8.add(lo, tokens0to7<E>(a, b));
        hi = i16x8.add(hi, tokens8to15<E>(a, b));
      }
      if (PLANES == 2) {
        s0 = i32x4.add(s0, i32x4.extend_low_i16x8_s(lo));
        s1 = i32x4.add(s1, i32x4.extend_high_i16x8_s(lo));
        s2 = i32x4.add(s2, i32x4.extend_low_i16x8_s(hi));
        s3 = i32x4.add(s3, i32x4.extend_high_i16x8_s(hi));
      } else {
        r0 = i16x8.add(r0, lo);
        r1 = i16x8.add(r1, hi);
      }
      p += 32;
      table += 4 * G;
    }
    if (PLANES == 1) {
      s0 = i32x4.extend_low_i16x8_s(r0); s1 = i32x4.extend_high_i16x8_s(r0);
      s2 = i32x4.extend_low_i16x8_s(r1); s3 = i32x4.extend_high_i16x8_s(r1);
    }
    const st = steps + (<usize>b << 6);
    f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(s0), load<v128>(st, 0)));
    f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(s1), load<v128>(st, 16)));
    f2 = f32x4.add(f2, f32x4.mul(f32x4.convert_i32x4_s(s2), load<v128>(st, 32)));
    f3 = f32x4.add(f3, f32x4.mul(f32x4.convert_i32x4_s(s3), load<v128>(st, 48)));
  }
  if (b1 < blockCount(K)) {
    storeStrided(y, yStride, f0, tokens);
    storeStrided(y + 4 * yStride, yStride, f1, tokens - 4);
    storeStrided(y + 8 * yStride, yStride, f2, tokens - 8);
    storeStrided(y + 12 * yStride, yStride, f3, tokens - 12);
    return;
  }
  const c = steps + (<usize>blockCount(K) << 6);
  storeStrided(y, yStride, f32x4.add(f0, load<v128>(c, 0)), tokens);
  storeStrided(y + 4 * yStride, yStride, f32x4.add(f1, load<v128>(c, 16)), tokens - 4);
  storeStrided(y + 8 * yStride, yStride, f32x4.add(f2, load<v128>(c, 32)), tokens - 8);
  storeStrided(y + 12 * yStride, yStride, f32x4.add(f3, load<v128>(c, 48)), tokens - 12);
}

/**
 * y[t, n] for rows n0 <= n < n1 of every token, from the scratch prepare<E> wrote.
 * bits: the packed signs [N, K]; y is [T, N]; n0 must be a multiple of 16 (row blocks are never split). Tokens in whole batches of
 * 16 go row by row through batchRow; the rest one by one through rowBlock.
 * Batches go a chunk of CHUNK_BLOCKS blocks (1024 columns) at a time over every row of the range, so
 * that the chunk's tables (16 tokens' worth) stay in cache while all the rows use them; the f32 sums
 * wait in y between chunks (same order of additions, same bits).
 */
function rowsOf<E>(y: usize, scratch: usize, bits: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const blockBytes = <usize>(paddedK(K) >> 3) << 4; // one row block: Kp/8 tiles of 16 bytes
  const stride = <usize>tokenBytes<E>(K);
  const yStride = <usize>N << 2;
  const batched = T - T % BATCH;
  const blocks = blockCount(K);
  // batches of 16 tokens: a chunk of columns at a time, its tables (one batch's) in cache for every row
  for (let b0 = 0; b0 < blocks; b0 += CHUNK_BLOCKS) {
    const b1 = min(blocks, b0 + CHUNK_BLOCKS);
    for (let t = 0; t < batched; t += BATCH) {
      const base = scratch + <usize>t * stride;
      for (let n = n0; n < n1; n += 16) {
        const tiles = bits + <usize>(n >> 4) * blockBytes;
        const rows = min(16, n1 - n);
        const yt = y + <usize>t * yStride + (<usize>n << 2);
        for (let r = 0; r < rows; r++) batchRow<E>(yt + (<usize>r << 2), yStride, tiles + <usize>r, base, K, BATCH, b0, b1);
      }
    }
  }
  // the other tokens one by one, all columns at once (a token's tables fit in cache)
  for (let n = n0; n < n1; n += 16) {
    const tiles = bits + <usize>(n >> 4) * blockBytes;
    for (let t = batched; t < T; t++) {
      rowBlock<E>(y + <usize>t * yStride + (<usize>n << 2), tiles, scratch + <usize>t * stride, K, min(16, n1 - n), 0, blocks);
    }
  }
}

// The exports, one set for each entry type (assembly/README.md, "The fast path").

/** Bytes of scratch for T tokens. */
export function onebit_fast_scratch_bytes(K: i32, T: i32): i32 { return T * tokenBytes<i16>(K); }
export function onebit_fast8_scratch_bytes(K: i32, T: i32): i32 { return T * tokenBytes<i8>(K); }

/** Quantize x[T, K] (rows `xStride` floats apart) and write the lookup tables of every token into scratch. */
export function onebit_fast_prepare(scratch: usize, x: usize, alpha: usize, beta: usize, T: i32, K: i32, xStride: i32): void {
  prepare<i16>(scratch, x, alpha, beta, T, K, xStride);
}
export function onebit_fast8_prepare(scratch: usize, x: usize, alpha: usize, beta: usize, T: i32, K: i32, xStride: i32): void {
  prepare<i8>(scratch, x, alpha, beta, T, K, xStride);
}

/** y[t, n] for rows n0 <= n < n1 of every token, from the prepared scratch (rowsOf). */
export function onebit_fast_rows(y: usize, scratch: usize, bits: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  rowsOf<i16>(y, scratch, bits, T, N, K, n0, n1);
}
export function onebit_fast8_rows(y: usize, scratch: usize, bits: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  rowsOf<i8>(y, scratch, bits, T, N, K, n0, n1);
}

/** y[T, N] = x[T, K] W_hat^T on the fast path: prepare, then every row (test build). */
export function onebit_fast_gemm(y: usize, x: usize, bits: usize, alpha: usize, beta: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  prepare<i16>(scratch, x, alpha, beta, T, K, xStride);
  rowsOf<i16>(y, scratch, bits, T, N, K, 0, N);
}
export function onebit_fast8_gemm(y: usize, x: usize, bits: usize, alpha: usize, beta: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  prepare<i8>(scratch, x, alpha, beta, T, K, xStride);
  rowsOf<i8>(y, scratch, bits, T, N, K, 0, N);
}
