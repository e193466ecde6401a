// The 4-bit head's layout (`--head q4`): groups of Q4_GROUP columns, each 16 bytes of 4-bit integers
// and one bf16 scale. Written down in assembly/README.md ("4-bit weights") and FORMAT.md; this file
// and the kernels (assembly/q4.ts, assembly/q4_fast.ts) are the only code that knows it.
//
// In group g of a row, the 16 bytes are 8 little-endian u16 words; word i holds the columns
// 32g + i, 32g + 8 + i, 32g + 16 + i, 32g + 24 + i in its bits 0-3, 4-7, 8-11, 12-15, each a two's
// complement q in [-8, 7]. So a kernel turns one 16-byte load into the four vectors of 8 consecutive
// columns with a shift pair per vector, in 16-bit lanes. A row's last group is padded with zeros.

export const Q4_GROUP = 32;
/** Bytes of one group's 4-bit values. */
export const Q4_GROUP_BYTES = Q4_GROUP / 2;

/** Groups in a row of `cols` columns (the last may be short). */
export function q4Groups(cols: number): number {
  return Math.ceil(cols / Q4_GROUP);
}

/** Shape of the packed values of a `[rows, cols]` matrix: U8 `[rows, groups, 16]`. */
export function q4PackedShape(rows: number, cols: number): number[] {
  return [rows, q4Groups(cols), Q4_GROUP_BYTES];
}

/** Byte offset (from the row's start) and bit shift of column k's 4 bits. */
function nibblePosition(k: number): [number, number] {
  const g = Math.floor(k / Q4_GROUP), j = k % Q4_GROUP;
  const word = j % 8, nibble = j >> 3; // nibble 0..3 of the word: bits 4*nibble..
  return [g * Q4_GROUP_BYTES + 2 * word + (nibble >> 1), 4 * (nibble & 1)];
}

/** Store q (an integer in [-8, 7]) as column k of the packed row starting at `row`. */
export function setQ4(packed: Uint8Array, row: number, k: number, q: number): void {
  const [byte, shift] = nibblePosition(k);
  packed[row + byte] = (packed[row + byte] & ~(0xf << shift)) | ((q & 0xf) << shift);
}

/** Column k of the packed row starting at `row`, as an integer in [-8, 7]. */
export function getQ4(packed: Uint8Array, row: number, k: number): number {
  const [byte, shift] = nibblePosition(k);
  return (((packed[row + byte] >> shift) & 0xf) << 28) >> 28;
}
