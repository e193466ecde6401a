// Mamba-2's per-head work between the two projections, for a range of heads in one call: what a thread
// of the pool does with its share of a layer's heads, so that the calling thread hands out one job a
// layer (and segment) instead of running the conv and the time step alone and then the scan as a job.
//
// For each head i of [i0, i1), over the T tokens of one session:
//   conv[t, i*P .. (i+1)*P)  = silu(conv1d(xBC))   the head's x channels, their conv state updated
//   dt[t, i]                 = clamp(softplus(dtIn[t, i] + dtBias[i]), lo, hi)
//   scan2 of head i          reads conv's x and the B and C channels, updates h[i]
// The B and C channels are shared by every head of a group, so they are not any one head's: the caller
// runs their conv (conv1d_channels over [H*P, conv_dim)) before the job. Each step is the kernel it
// replaces run over the head's own channels, and each of those kernels gives a channel or a head the
// same bits in any range, so this gives the bits of conv1d, dt_softplus and scan2 run one after another.
//
// conv [T, conv_dim] (x | B | C, conv_dim = H*P + 2*G*S); xBC and dtIn rows `inStride` floats apart
// (views of in_proj's output); convState [conv_dim, W-1]; convW [conv_dim, W]; convB [conv_dim];
// dt [T, H]; y [T, H*P]; A, Dskip, dtBias [H]; h [H, P, S] (f32, or bf16 with its f32 scratch).
import { conv1d_channels } from './conv1d';
import { dt_softplus_heads } from './activation';
import { scan2_heads, scan2_heads_bf16 } from './scan_mamba2';

/** conv + dt of heads [i0, i1): the steps before the scan. */
@inline function convAndDt(conv: usize, xBC: usize, convState: usize, convW: usize, convB: usize, dt: usize, dtIn: usize, dtBias: usize,
  T: i32, H: i32, P: i32, S: i32, G: i32, W: i32, inStride: i32, lo: f32, hi: f32, i0: i32, i1: i32): void {
  const convDim = H * P + 2 * G * S;
  conv1d_channels(conv, xBC, convState, convW, convB, T, convDim, W, inStride, true, i0 * P, i1 * P);
  dt_softplus_heads(dt, dtIn, dtBias, T, H, inStride, lo, hi, i0, i1);
}

/** Heads i0 <= i < i1, the state h stored as f32 (scan2_heads). */
export function ssd2_heads(y: usize, conv: usize, xBC: usize, convState: usize, convW: usize, convB: usize, dt: usize, dtIn: usize, dtBias: usize,
  A: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, W: i32, inStride: i32, lo: f32, hi: f32, i0: i32, i1: i32): void {
  convAndDt(conv, xBC, convState, convW, convB, dt, dtIn, dtBias, T, H, P, S, G, W, inStride, lo, hi, i0, i1);
  const convDim = H * P + 2 * G * S;
  const B = conv + (<usize>(H * P) << 2), C = B + (<usize>(G * S) << 2);
  scan2_heads(y, conv, dt, A, B, C, Dskip, h, T, H, P, S, G, convDim, convDim, i0, i1);
}

/** Heads i0 <= i < i1, the state h stored as bf16 (scan2_heads_bf16, `scratch` its f32 widening for T > 1). */
export function ssd2_heads_bf16(y: usize, conv: usize, xBC: usize, convState: usize, convW: usize, convB: usize, dt: usize, dtIn: usize, dtBias: usize,
  A: usize, Dskip: usize, h: usize, T: i32, H: i32, P: i32, S: i32, G: i32, W: i32, inStride: i32, lo: f32, hi: f32, scratch: usize, i0: i32, i1: i32): void {
  convAndDt(conv, xBC, convState, convW, convB, dt, dtIn, dtBias, T, H, P, S, G, W, inStride, lo, hi, i0, i1);
  const convDim = H * P + 2 * G * S;
  const B = conv + (<usize>(H * P) << 2), C = B + (<usize>(G * S) << 2);
  scan2_heads_bf16(y, conv, dt, A, B, C, Dskip, h, T, H, P, S, G, convDim, convDim, scratch, i0, i1);
}
