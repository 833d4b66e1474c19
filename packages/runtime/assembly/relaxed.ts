// The relaxed-SIMD module (dist/kernels-relaxed.wasm): everything of the plain module, plus the
// int8 x int7 kernel. Engines without relaxed SIMD reject the whole module, so it is a separate file.
import { convolve } from './conv';

export { TILE_SCRATCH_BYTES, padWidenI16, padU8, convI16, convI16Rgb, maxU8, pairTaps } from './conv';
export { heapBase } from './index';
export * from './layers';

/**
 * convolve over uint8 channel quads (activations <= 127) x int8 weights, relaxed SIMD; chunk > 1
 * accumulates in int16 (see tile4x8Chunked).
 */
export function convI8Relaxed(
  x: usize, rowStride: i32, pixStep: i32, tapStep: i32, groupStep: i32,
  outH: i32, outW: i32, stride: i32,
  kh: i32, outer: i32, inner: i32,
  groups: i32, coutG: i32, cout: i32,
  w: usize, m: usize, b: usize,
  mode: i32, lo: i32, hi: i32, flo: f32, fhi: f32,
  out: usize, elem: i32, scratch: usize, chunk: i32, res: usize, resRowStride: i32,
  codes: usize, codePixel: i32, step: f64, qmax: i32, floats: bool,
): void {
  convolve<i8>(x, rowStride, pixStep, tapStep, groupStep, outH, outW, stride, kh, outer, inner,
    groups, coutG, cout, w, m, b, mode, lo, hi, flo, fhi, out, elem, scratch, chunk, res, resRowStride,
    codes, codePixel, step, qmax, floats);
}
