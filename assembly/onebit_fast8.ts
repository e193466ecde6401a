// Fast 1-bit GEMV/GEMM with 8-bit lookup tables (`activationBits: 8`): the 12-bit path of
// onebit_fast.ts with every table entry one byte, so a group's 16 entries are one byte plane (one
// lookup for 16 rows where the 12-bit tables need two) and a batch's entry holds 16 tokens in one load.
//
// An entry is ±q0 ±q1 ±q2 ±q3 and must fit an i8, so |q| <= 31: per block of 256 columns
// step_b = max|xs| / 31 and q = round(xs / step_b) (quantize.ts, as the 12-bit path with its levels).
// The sums are grouped as in onebit_fast.ts, only wider apart: i16 over a whole block (at most
// 64 groups * 124 = 7936, below 2^15), i32, then f32 times step_b over the blocks, then c. Integer sums
// are exact, so a token gets the same bits alone, in a batch of 16, in any chunking, on any threads.
//
// Error against the exact kernel: |y_fast - y_exact| <= Σ_k step_b(k) / 2 <= K * max|xs| / 62, plus
// f32 rounding (the 12-bit bound times 4094 / 62, about 66).
//
// Scratch (onebit_fast8_prepare writes it, onebit_fast8_rows reads it): token t at scratch + t*TOKEN,
// TOKEN = tokenBytes(K) (a multiple of 64). Kp = paddedK(K).
//   Token layout (tokens past the last whole batch of 16): Kp/4 tables of 16 bytes (group g at 16*g,
//     entry m its byte m), then the f32 step of each block, then c.
//   Batch layout (tokens t0..t0+15, t0 a multiple of 16, in the 16*TOKEN bytes from scratch + t0*TOKEN):
//     Kp/4 tables of 256 bytes (group g at 256*g; entry m at 16*m is 16 i8, token t0+j its byte j),
//     then at 16 * tablesBytes(K) the steps [block][16 tokens] f32, then c [16 tokens] f32.

import { roundSmall, storeLanes, dot } from './simd';
import { paddedK, blockCount, values4, value1, quantizeBlock, BLOCK_COLS } from './quantize';
import { swizzle, lowSums, splatQ3, storeStrided, loadStrided } from './onebit_fast';

const LEVELS: f32 = 31; // largest |q|: four of them sum within an i8
const TILES_PER_BLOCK: i32 = BLOCK_COLS / 8;
const CHUNK_BLOCKS: i32 = 4; // batch path: blocks of columns (1024) done for all rows before the next
const GROUP_TABLE_BYTES: usize = 16; // token layout: one group's table
const BATCH: i32 = 16; // tokens of a batch
const BATCH_GROUP_BYTES: usize = 16 * 16; // batch layout: one group's table

/** Bytes of one token's tables in the token layout (the batch layout's are 16 times that). */
@inline function tablesBytes(K: i32): usize {
  return <usize>(paddedK(K) >> 2) * GROUP_TABLE_BYTES;
}

/** Bytes of scratch one token needs (see the top of the file). */
@inline function tokenBytes(K: i32): i32 {
  const bytes = <i32>tablesBytes(K) + 4 * (blockCount(K) + 1);
  return (bytes + 63) & ~63;
}

/** Bytes of scratch for T tokens. */
export function onebit_fast8_scratch_bytes(K: i32, T: i32): i32 {
  return T * tokenBytes(K);
}

/** One group's 16 entries (|entry| <= 124) as i8, entry m in byte m. */
@inline function entries(q: v128): v128 {
  const low3 = lowSums(q), q3 = splatQ3(q);
  return i8x16.narrow_i16x8_s(i16x8.sub(low3, q3), i16x8.add(low3, q3)); // entries 0..7, 8..15
}

/** Batch layout: entry m of token `lane` (of 16) as the byte at dst + 16*m + lane. */
@inline function writeTableLane(dst: usize, q: v128, lane: i32): void {
  const e = entries(q);
  const at = dst + <usize>lane;
  v128.store8_lane(at, e, 0, 0); v128.store8_lane(at, e, 1, 16);
  v128.store8_lane(at, e, 2, 32); v128.store8_lane(at, e, 3, 48);
  v128.store8_lane(at, e, 4, 64); v128.store8_lane(at, e, 5, 80);
  v128.store8_lane(at, e, 6, 96); v128.store8_lane(at, e, 7, 112);
  v128.store8_lane(at, e, 8, 128); v128.store8_lane(at, e, 9, 144);
  v128.store8_lane(at, e, 10, 160); v128.store8_lane(at, e, 11, 176);
  v128.store8_lane(at, e, 12, 192); v128.store8_lane(at, e, 13, 208);
  v128.store8_lane(at, e, 14, 224); v128.store8_lane(at, e, 15, 240);
}

/**
 * Quantize one token and write its tables, block steps and c. lane < 0: token layout at `base`;
 * otherwise token `lane` of the 16-token batch at `base`.
 */
function prepareToken(base: usize, lane: i32, x: usize, alpha: usize, beta: usize, K: i32): void {
  const Kp = paddedK(K);
  const blocks = blockCount(K);
  const batch = lane >= 0;
  const steps = batch ? base + <usize>BATCH * tablesBytes(K) + (<usize>lane << 2) : base + tablesBytes(K);
  const stepStride: usize = batch ? <usize>BATCH * 4 : 4;
  for (let b = 0; b < blocks; b++) {
    const k0 = b * BLOCK_COLS;
    const k1 = min(K, k0 + BLOCK_COLS);
    const inv = f32x4.splat(quantizeBlock(x, alpha, k0, k1, LEVELS, steps + <usize>b * stepStride));
    const gEnd = b == blocks - 1 ? Kp : k1; // the last block also covers the padding columns
    for (let k = k0; k < gEnd; k += 4) {
      let xs: v128;
      if (k + 4 <= K) xs = values4(x, alpha, k);
      else xs = f32x4(value1(x, alpha, k, K), value1(x, alpha, k + 1, K), value1(x, alpha, k + 2, K), value1(x, alpha, k + 3, K));
      const q = roundSmall(f32x4.mul(xs, inv)); // |xs * inv| <= 31 (NaN, inf: the step carries them)
      if (batch) writeTableLane(base + <usize>(k >> 2) * BATCH_GROUP_BYTES, q, lane);
      else store<v128>(base + <usize>(k >> 2) * GROUP_TABLE_BYTES, entries(q));
    }
  }
  store<f32>(steps + <usize>blocks * stepStride, dot(beta, x, K)); // c, summed as the exact kernel sums it
}

/** Quantize x[T, K] (rows `xStride` floats apart) and write the 8-bit lookup tables of every token into scratch. */
export function onebit_fast8_prepare(scratch: usize, x: usize, alpha: usize, beta: usize, T: i32, K: i32, xStride: i32): void {
  const stride = <usize>tokenBytes(K);
  const batched = T - T % BATCH;
  for (let t = 0; t < T; t++) {
    const xt = x + <usize>t * (<usize>xStride << 2);
    if (t < batched) prepareToken(scratch + <usize>(t - t % BATCH) * stride, t % BATCH, xt, alpha, beta, K);
    else prepareToken(scratch + <usize>t * stride, -1, xt, alpha, beta, K);
  }
}

/**
 * One token, one row block (16 rows), blocks b0 <= b < b1 of the columns, as rowBlock in onebit_fast.ts:
 * a lookup gives 16 rows' i8 entries, widened into i16 sums of rows 0-7 and 8-15.
 */
@inline function rowBlock(y: usize, tiles: usize, tok: usize, K: i32, rows: i32, b0: i32, b1: i32): void {
  const tileCount = paddedK(K) >> 3;
  const steps = tok + tablesBytes(K);
  const nibble = i8x16.splat(0x0f);
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  if (b0 > 0) {
    f0 = load<v128>(y, 0); f1 = load<v128>(y, 16); f2 = load<v128>(y, 32); f3 = load<v128>(y, 48);
  }
  let tile = tiles + (<usize>(b0 * TILES_PER_BLOCK) << 4);
  let table = tok + <usize>(b0 * TILES_PER_BLOCK) * 2 * GROUP_TABLE_BYTES;
  for (let c0 = b0 * TILES_PER_BLOCK, b = b0; b < b1; c0 += TILES_PER_BLOCK, b++) {
    const c1 = min(tileCount, c0 + TILES_PER_BLOCK);
    let a0 = i16x8.splat(0), a1 = i16x8.splat(0); // rows 0-7, 8-15: at most 7936 over a block
    for (let cp = c0; cp < c1; cp++) {
      // tile cp: groups 2cp (low nibbles) and 2cp+1 (high nibbles)
      const bytes = load<v128>(tile);
      let e = swizzle(load<v128>(table), v128.and(bytes, nibble));
      a0 = i16x8.add(a0, i16x8.extend_low_i8x16_s(e));
      a1 = i16x8.add(a1, i16x8.extend_high_i8x16_s(e));
      e = swizzle(load<v128>(table, 16), v128.and(i16x8.shr_u(bytes, 4), nibble));
      a0 = i16x8.add(a0, i16x8.extend_low_i8x16_s(e));
      a1 = i16x8.add(a1, i16x8.extend_high_i8x16_s(e));
      tile += 16;
      table += 2 * GROUP_TABLE_BYTES;
    }
    const step = f32x4.splat(load<f32>(steps + (<usize>b << 2)));
    f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a0)), step));
    f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a0)), step));
    f2 = f32x4.add(f2, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a1)), step));
    f3 = f32x4.add(f3, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a1)), step));
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

/**
 * One row, one batch of 16 tokens, blocks b0 <= b < b1, as batchRow in onebit_fast.ts: the row's nibble
 * picks an entry of 16 tokens, one load. Same sums as rowBlock, so the same bits.
 */
@inline function batchRow(y: usize, yStride: usize, rowBytes: usize, base: usize, K: i32, tokens: i32, b0: i32, b1: i32): void {
  const tileCount = paddedK(K) >> 3;
  const steps = base + <usize>BATCH * tablesBytes(K);
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  if (b0 > 0) {
    f0 = loadStrided(y, yStride, tokens);
    f1 = loadStrided(y + 4 * yStride, yStride, tokens - 4);
    f2 = loadStrided(y + 8 * yStride, yStride, tokens - 8);
    f3 = loadStrided(y + 12 * yStride, yStride, tokens - 12);
  }
  let p = rowBytes + (<usize>(b0 * TILES_PER_BLOCK) << 4);
  let table = base + <usize>(b0 * TILES_PER_BLOCK) * 2 * BATCH_GROUP_BYTES;
  for (let c0 = b0 * TILES_PER_BLOCK, b = b0; b < b1; c0 += TILES_PER_BLOCK, b++) {
    const c1 = min(tileCount, c0 + TILES_PER_BLOCK);
    let lo = i16x8.splat(0), hi = i16x8.splat(0); // tokens 0-7, 8-15
    for (let cp = c0; cp < c1; cp++) {
      // entry m of a group is 16 bytes at 16*m: the low nibble's offset is (bits << 4) & 0xf0, the high
      // nibble's bits & 0xf0 (its group 256 bytes on, in the load's immediate)
      const bits = <usize>load<u8>(p);
      let e = load<v128>(table + ((bits << 4) & 0xf0));
      lo = i16x8.add(lo, i16x8.extend_low_i8x16_s(e));
      hi = i16x8.add(hi, i16x8.extend_high_i8x16_s(e));
      e = load<v128>(table + (bits & 0xf0), BATCH_GROUP_BYTES);
      lo = i16x8.add(lo, i16x8.extend_low_i8x16_s(e));
      hi = i16x8.add(hi, i16x8.extend_high_i8x16_s(e));
      p += 16;
      table += 2 * BATCH_GROUP_BYTES;
    }
    const st = steps + (<usize>b << 6);
    f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), load<v128>(st, 0)));
    f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), load<v128>(st, 16)));
    f2 = f32x4.add(f2, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), load<v128>(st, 32)));
    f3 = f32x4.add(f3, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), load<v128>(st, 48)));
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
 * y[t, n] for rows n0 <= n < n1 of every token, from the scratch onebit_fast8_prepare wrote; n0 a
 * multiple of 16. As onebit_fast_rows: whole batches of 16 tokens a chunk of columns at a time, row by
 * row; the other tokens one by one.
 */
export function onebit_fast8_rows(y: usize, scratch: usize, bits: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const blockBytes = <usize>(paddedK(K) >> 3) << 4;
  const stride = <usize>tokenBytes(K);
  const yStride = <usize>N << 2;
  const batched = T - T % BATCH;
  const blocks = blockCount(K);
  for (let b0 = 0; b0 < blocks; b0 += CHUNK_BLOCKS) {
    const b1 = min(blocks, b0 + CHUNK_BLOCKS);
    for (let t = 0; t < batched; t += BATCH) {
      const base = scratch + <usize>t * stride;
      for (let n = n0; n < n1; n += 16) {
        const tiles = bits + <usize>(n >> 4) * blockBytes;
        const rows = min(16, n1 - n);
        const yt = y + <usize>t * yStride + (<usize>n << 2);
        for (let r = 0; r < rows; r++) batchRow(yt + (<usize>r << 2), yStride, tiles + <usize>r, base, K, BATCH, b0, b1);
      }
    }
  }
  for (let n = n0; n < n1; n += 16) {
    const tiles = bits + <usize>(n >> 4) * blockBytes;
    for (let t = batched; t < T; t++) {
      rowBlock(y + <usize>t * yStride + (<usize>n << 2), tiles, scratch + <usize>t * stride, K, min(16, n1 - n), 0, blocks);
    }
  }
}

/** y[T, N] = x[T, K] W_hat^T with 8-bit tables: prepare, then every row. */
export function onebit_fast8_gemm(y: usize, x: usize, bits: usize, alpha: usize, beta: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  onebit_fast8_prepare(scratch, x, alpha, beta, T, K, xStride);
  onebit_fast8_rows(y, scratch, bits, T, N, K, 0, N);
}
