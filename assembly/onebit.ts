// 1-bit GEMV and GEMM over the 16x8 tile layout (assembly/README.md, "1-bit weights").
//
//   y[n] = Σ_k s[n,k] * xs[k] + c,   xs[k] = alpha[k] * x[k],   c = Σ_k beta[k] * x[k],   s = ±1
//
// Sign tables: for each group g of 4 columns there are only 16 possible sign patterns, so the 16 sums
//   E_g[m] = Σ_j (bit j of m ? +xs[4g+j] : -xs[4g+j]),   m = 0..15
// are computed once per token, and a row adds E_g[its nibble] for every group.
//
// Lookup: a tile holds one byte per row for 16 rows, so its low (high) nibbles are 16 table indices,
// one per row. Each table of 16 f32 is kept as 4 byte planes (plane b = byte b of the 16 entries);
// i8x16.swizzle of a plane by the 16 nibbles gives byte b of every row's entry, and two rounds of byte
// interleaving rebuild those entries as four f32x4 (rows 0-3, 4-7, 8-11, 12-15). Lookup only moves
// bits, so the result is plain f32 arithmetic: E_g[m] = (±xs0 ± xs1) + (±xs2 ± xs3), each row sums
// its entries in column order, then adds c.
//
// Scratch (one token's tables: 16*Kp bytes): for tile column cp (columns 8cp..8cp+7),
// 128 bytes at scratch + 128*cp: the table of group 2cp (low nibbles) as planes 0..3, then the table
// of group 2cp+1 (high nibbles). Columns past K count as xs = 0.
//
// The range form (what threads split): onebit_prepare writes every token's tables and its c into
// scratch (onebit_scratch_bytes(K, T): token t's tables at t * (16*Kp + 64), its c right after them),
// onebit_rows sums rows n0..n1 of every token from there. The same tables and the same sums as
// onebit_gemv: the same bits, whichever range computes a row.
import { dot, storeLanes } from './simd';
import { paddedK } from './quantize';

const TABLE_BYTES: i32 = 64; // 16 f32 entries, as 4 byte planes of 16

/** Bytes of one token's sign tables for input size K. */
@inline function tableBytes(K: i32): usize {
  return <usize>(paddedK(K) / 4) * TABLE_BYTES;
}

/** Bytes of one token's part of the scratch: its tables, then its c (64 bytes, for alignment). */
@inline function tokenBytes(K: i32): usize {
  return tableBytes(K) + 64;
}

/** Bytes of scratch the 1-bit kernels need for T tokens of input size K (onebit_gemv and onebit_gemm: T = 1). */
export function onebit_scratch_bytes(K: i32, T: i32): i32 {
  return <i32>tokenBytes(K) * T;
}

/** xs[k] = alpha[k] * x[k], or 0 past the real columns. */
@inline function scaledInput(x: usize, alpha: usize, k: i32, K: i32): f32 {
  return k < K ? load<f32>(alpha + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2)) : 0;
}

/** Write the sign table of one group (inputs a, b, c, d) as 4 byte planes at dst. */
@inline function writeSignTable(dst: usize, a: f32, b: f32, c: f32, d: f32): void {
  // low[i] = ±a ±b for sign bits i = (bit1 bit0); high[q] = ±c ±d likewise. Multiplying by ±1 is exact.
  const low = f32x4.add(f32x4.mul(f32x4.splat(a), f32x4(-1, 1, -1, 1)), f32x4.mul(f32x4.splat(b), f32x4(-1, -1, 1, 1)));
  const high = f32x4.add(f32x4.mul(f32x4.splat(c), f32x4(-1, 1, -1, 1)), f32x4.mul(f32x4.splat(d), f32x4(-1, -1, 1, 1)));
  // entries 4q .. 4q+3 are low + high[q]
  const e0 = f32x4.add(low, v128.shuffle<f32>(high, high, 0, 0, 0, 0));
  const e1 = f32x4.add(low, v128.shuffle<f32>(high, high, 1, 1, 1, 1));
  const e2 = f32x4.add(low, v128.shuffle<f32>(high, high, 2, 2, 2, 2));
  const e3 = f32x4.add(low, v128.shuffle<f32>(high, high, 3, 3, 3, 3));
  // bytes of each vector grouped by byte position: i32 lane b = byte b of its 4 entries
  const t0 = i8x16.shuffle(e0, e0, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const t1 = i8x16.shuffle(e1, e1, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const t2 = i8x16.shuffle(e2, e2, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const t3 = i8x16.shuffle(e3, e3, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  // 4x4 transpose of i32 lanes: plane b = [t0 lane b, t1 lane b, t2 lane b, t3 lane b]
  const u01lo = v128.shuffle<i32>(t0, t1, 0, 4, 1, 5);
  const u01hi = v128.shuffle<i32>(t0, t1, 2, 6, 3, 7);
  const u23lo = v128.shuffle<i32>(t2, t3, 0, 4, 1, 5);
  const u23hi = v128.shuffle<i32>(t2, t3, 2, 6, 3, 7);
  store<v128>(dst, v128.shuffle<i64>(u01lo, u23lo, 0, 2), 0);
  store<v128>(dst, v128.shuffle<i64>(u01lo, u23lo, 1, 3), 16);
  store<v128>(dst, v128.shuffle<i64>(u01hi, u23hi, 0, 2), 32);
  store<v128>(dst, v128.shuffle<i64>(u01hi, u23hi, 1, 3), 48);
}

/** The sign tables of one token, for all Kp/4 groups. */
function writeSignTables(tables: usize, x: usize, alpha: usize, K: i32): void {
  const groups = paddedK(K) >> 2;
  for (let g = 0; g < groups; g++) {
    const k = g << 2;
    writeSignTable(
      tables + <usize>g * TABLE_BYTES,
      scaledInput(x, alpha, k, K),
      scaledInput(x, alpha, k + 1, K),
      scaledInput(x, alpha, k + 2, K),
      scaledInput(x, alpha, k + 3, K),
    );
  }
}

/** y[n] = Σ_g E_g[nibble of row n in group g] + c for rows [r0, r1) (r0 a multiple of 16) of the N packed rows. */
function sumSignTables(y: usize, bits: usize, tables: usize, c: f32, N: i32, K: i32, r0: i32, r1: i32): void {
  const tilesPerRowBlock = paddedK(K) >> 3;
  const lowNibble = i8x16.splat(0x0f);
  if (r1 > N) r1 = N;
  for (let n0 = r0; n0 < r1; n0 += 16) {
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0); // rows n0+0..3, 4..7, 8..11, 12..15
    let tile = bits + <usize>n0 * <usize>tilesPerRowBlock; // 16 bytes a tile, 16 rows a block
    let table = tables;
    for (let cp = 0; cp < tilesPerRowBlock; cp++) {
      const rowBytes = load<v128>(tile);
      // low nibbles index the table of group 2cp, high nibbles the next one (group 2cp+1)
      for (let half = 0; half < 2; half++) {
        const index = half == 0 ? v128.and(rowBytes, lowNibble) : i8x16.shr_u(rowBytes, 4);
        const b0 = i8x16.swizzle(load<v128>(table, 0), index); // byte 0 of each row's entry
        const b1 = i8x16.swizzle(load<v128>(table, 16), index);
        const b2 = i8x16.swizzle(load<v128>(table, 32), index);
        const b3 = i8x16.swizzle(load<v128>(table, 48), index);
        // interleave bytes 0,1 and 2,3 (rows 0-7 and 8-15), then the pairs: one f32 per row
        const lo01 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23); // rows 0-7: bytes 0,1
        const hi01 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31); // rows 8-15
        const lo23 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const hi23 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        acc0 = f32x4.add(acc0, i16x8.shuffle(lo01, lo23, 0, 8, 1, 9, 2, 10, 3, 11));
        acc1 = f32x4.add(acc1, i16x8.shuffle(lo01, lo23, 4, 12, 5, 13, 6, 14, 7, 15));
        acc2 = f32x4.add(acc2, i16x8.shuffle(hi01, hi23, 0, 8, 1, 9, 2, 10, 3, 11));
        acc3 = f32x4.add(acc3, i16x8.shuffle(hi01, hi23, 4, 12, 5, 13, 6, 14, 7, 15));
        table += TABLE_BYTES;
      }
      tile += 16;
    }
    const cv = f32x4.splat(c);
    const out = y + (<usize>n0 << 2);
    const left = r1 - n0; // rows past the range (or past N: padding) are not written
    storeLanes(out, f32x4.add(acc0, cv), left);
    storeLanes(out + 16, f32x4.add(acc1, cv), left - 4);
    storeLanes(out + 32, f32x4.add(acc2, cv), left - 8);
    storeLanes(out + 48, f32x4.add(acc3, cv), left - 12);
  }
}

/** y[N] = W_hat x for one token. */
export function onebit_gemv(y: usize, x: usize, bits: usize, alpha: usize, beta: usize, N: i32, K: i32, scratch: usize): void {
  writeSignTables(scratch, x, alpha, K);
  sumSignTables(y, bits, scratch, dot(beta, x, K), N, K, 0, N);
}

/** y[T,N] = x[T,K] W_hat^T, x rows `xStride` floats apart: one GEMV per token. */
export function onebit_gemm(y: usize, x: usize, bits: usize, alpha: usize, beta: usize, T: i32, N: i32, K: i32, xStride: i32, scratch: usize): void {
  for (let t = 0; t < T; t++) {
    onebit_gemv(y + <usize>t * (<usize>N << 2), x + <usize>t * (<usize>xStride << 2), bits, alpha, beta, N, K, scratch);
  }
}

/** Every token's sign tables and c = Σ beta x, for onebit_rows; x rows `xStride` floats apart. */
export function onebit_prepare(scratch: usize, x: usize, alpha: usize, beta: usize, T: i32, K: i32, xStride: i32): void {
  for (let t = 0; t < T; t++) {
    const xt = x + <usize>t * (<usize>xStride << 2);
    const tables = scratch + <usize>t * tokenBytes(K);
    writeSignTables(tables, xt, alpha, K);
    store<f32>(tables + tableBytes(K), dot(beta, xt, K));
  }
}

/** Rows n0 <= n < n1 (n0 a multiple of 16) of y[T,N] = x[T,K] W_hat^T, from onebit_prepare's scratch. */
export function onebit_rows(y: usize, scratch: usize, bits: usize, T: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  for (let t = 0; t < T; t++) {
    const tables = scratch + <usize>t * tokenBytes(K);
    sumSignTables(y + <usize>t * (<usize>N << 2), bits, tables, load<f32>(tables + tableBytes(K)), N, K, n0, n1);
  }
}
