// Integer convolution kernels (WebAssembly SIMD128). Everything is addressed by byte offsets into
// linear memory that the JS side allocates; nothing here allocates. The arithmetic these kernels
// implement is specified in the package README ("Integer kernels") and mirrored exactly by
// src/conv-reference.ts.
//
// Input: the caller's uint8 NHWC image is first copied by padWidenI16 into a zero-padded int16
// image, each group's channels rounded up to an even count, so that the inner loop can splat one
// channel pair with a single load and never checks a border.
// Weights: packed by src/conv-pack.ts into blocks of 8 (or, at a group's tail, 4) output channels;
// one 16-byte vector holds [w(o,c), w(o,c+1)] for 4 outputs o, as i16, so that i32x4.dot_i16x8_s of
// a splatted input pair with it yields 4 output partial sums.
import { narrowBytes, quantCodes } from './quantizer';

/** Bytes of the accumulator scratch a tile writes (8 pixels x 8 channels of i32). */
export const TILE_SCRATCH_BYTES: i32 = 8 * 8 * 4 + 64;

export const MODE_UINT8: i32 = 0;
export const MODE_INT32: i32 = 1;
export const MODE_FLOAT32: i32 = 2;
export const MODE_FLOAT32_ADD: i32 = 3;
/** MODE_FLOAT32_ADD, then min(max(y, flo), fhi) of the sum (a clamp layer after the add, fused; the conv's own output unclamped). */
export const MODE_FLOAT32_ADD_CLAMP: i32 = 4;

/**
 * Zeroes the `total` bytes at dst except the h rows of `row` bytes, `stride` apart from `first`,
 * that the image's pixels will overwrite: the padded image's border.
 */
function fillBorder(dst: usize, total: i32, first: i32, row: i32, stride: i32, h: i32): void {
  if (h == 0 || row == 0) {
    memory.fill(dst, 0, <usize>total);
    return;
  }
  memory.fill(dst, 0, <usize>first);
  const gap = stride - row;
  for (let y = 1; y < h; y++) memory.fill(dst + <usize>(first + (y - 1) * stride + row), 0, <usize>gap);
  const end = first + (h - 1) * stride + row;
  memory.fill(dst + <usize>end, 0, <usize>(total - end));
}

// Byte shuffles of padWidenI16 for a group layout that differs from the source's (RGB's 3 channels
// padded to 4, 1-channel groups to 2): up to 4 vectors, rebuilt per call.
const WIDEN_MASKS = memory.data(64, 16);

/**
 * Copies a uint8 NHWC image (h x w x c, rows srcStride bytes apart) into dst as int16 at
 * (padTop, padLeft) of an hp x wp image with cs = groups * cgp channels per pixel (group g's
 * channel i at g * cgp + i); everything else 0.
 */
export function padWidenI16(
  src: usize, srcStride: i32, h: i32, w: i32, c: i32, groups: i32,
  dst: usize, hp: i32, wp: i32, padTop: i32, padLeft: i32, cgp: i32,
): void {
  const cs = groups * cgp;
  const cg = c / groups;
  fillBorder(dst, (hp * wp * cs) << 1, ((padTop * wp + padLeft) * cs) << 1, (w * cs) << 1, (wp * cs) << 1, h);
  // Regrouped rows: blocks of `block` pixels (`vectors` output vectors, block * c <= 16 source bytes).
  let vectors = 0;
  let block = 0;
  if (cg != cgp) {
    const out = cs << 1;
    let v = 1;
    while ((v << 4) % out != 0 && v <= 4) v++;
    if (v <= 4 && ((v << 4) / out) * c <= 16) {
      while (v * 2 <= 4 && (((v * 2) << 4) / out) * c <= 16) v <<= 1;
      vectors = v;
      block = (v << 4) / out;
      for (let o = 0; o < (v << 4); o++) {
        const e = o >> 1;
        const slot = e % cs;
        const i = slot % cgp;
        const from = (o & 1) != 0 || i >= cg ? 0x80 : (e / cs) * c + (slot / cgp) * cg + i;
        store<u8>(WIDEN_MASKS + <usize>o, <u8>from);
      }
    }
  }
  for (let y = 0; y < h; y++) {
    const srow = src + <usize>(y * srcStride);
    const drow = dst + (<usize>(((y + padTop) * wp + padLeft) * cs) << 1);
    if (cg == cgp) {
      // Same channel layout as the source: widen the whole row at once.
      const n = w * c;
      let i = 0;
      for (; i + 16 <= n; i += 16) {
        const v = v128.load(srow + <usize>i);
        v128.store(drow + (<usize>i << 1), i16x8.extend_low_i8x16_u(v));
        v128.store(drow + (<usize>i << 1), i16x8.extend_high_i8x16_u(v), 16);
      }
      for (; i < n; i++) store<u16>(drow + (<usize>i << 1), load<u8>(srow + <usize>i));
      continue;
    }
    let x = 0;
    if (vectors > 0) {
      // The 16-byte loads stay inside the row.
      const m0 = v128.load(WIDEN_MASKS);
      const m1 = v128.load(WIDEN_MASKS, 16);
      const m2 = v128.load(WIDEN_MASKS, 32);
      const m3 = v128.load(WIDEN_MASKS, 48);
      const bytes = <usize>(block * cs) << 1;
      let d = drow;
      for (; (x * c) + 16 <= w * c; x += block) {
        const v = v128.load(srow + <usize>(x * c));
        v128.store(d, i8x16.swizzle(v, m0));
        if (vectors > 1) v128.store(d, i8x16.swizzle(v, m1), 16);
        if (vectors > 2) v128.store(d, i8x16.swizzle(v, m2), 32);
        if (vectors > 3) v128.store(d, i8x16.swizzle(v, m3), 48);
        d += bytes;
      }
    }
    for (; x < w; x++) {
      const s = srow + <usize>(x * c);
      const d = drow + (<usize>(x * cs) << 1);
      for (let g = 0; g < groups; g++) {
        const sg = s + <usize>(g * cg);
        const dg = d + (<usize>(g * cgp) << 1);
        for (let i = 0; i < cgp; i++) store<u16>(dg + (<usize>i << 1), i < cg ? <u16>load<u8>(sg + <usize>i) : 0);
      }
    }
  }
}

/**
 * Turns an image padded by padWidenI16 with one channel per group (padded to 2) into horizontal
 * tap pairs: every pixel's second channel of each group becomes the first channel of the pixel to
 * its right, so that one int16 pair step covers two kernel columns (see src/conv-pack.ts). A row's
 * last pixel takes the next row's first: the kernel only pairs it with a zero weight (the odd
 * column of an odd kernel width) or not at all. Reads up to pixelBytes + 16 bytes past the image.
 */
export function pairTaps(dst: usize, bytes: i32, pixelBytes: i32): void {
  const low = i32x4.splat(0xffff);
  const p = <usize>pixelBytes;
  for (let i: usize = 0; i < <usize>bytes; i += 16) {
    const at = dst + i;
    v128.store(at, v128.or(v128.and(v128.load(at), low), i32x4.shl(v128.load(at + p), 16)));
  }
}

/**
 * One step of 4 output channels: with T = i16, v holds an input channel pair as i16 [x0, x1] in
 * every 32-bit lane and w the i16 pairs of 4 outputs; with T = i8 (relaxed SIMD), v holds 4 uint8
 * channels <= 127 in every lane and w the int8 quads of 4 outputs. The weights are the first
 * (i8) operand of the relaxed dot and the activations the second (i7) one: with a top bit set
 * there, engines may disagree.
 */
@inline
function dot4<T>(v: v128, w: v128): v128 {
  if (sizeof<T>() == 1) {
    return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(w, v));
  } else {
    return i32x4.dot_i16x8_s(v, w);
  }
}

/**
 * Copies a uint8 NHWC image (rows srcStride bytes apart) into dst as uint8 at (padTop, padLeft) of
 * an hp x wp image with groups * cgp channels per pixel (cgp: a group's channel count rounded up
 * to 4); everything else 0. For the relaxed-SIMD kernel, whose steps are channel quads.
 */
export function padU8(
  src: usize, srcStride: i32, h: i32, w: i32, c: i32, groups: i32,
  dst: usize, hp: i32, wp: i32, padTop: i32, padLeft: i32, cgp: i32,
): void {
  const cs = groups * cgp;
  const cg = c / groups;
  if (cg == cgp) fillBorder(dst, hp * wp * cs, (padTop * wp + padLeft) * cs, w * cs, wp * cs, h);
  else memory.fill(dst, 0, <usize>hp * <usize>wp * <usize>cs);
  for (let y = 0; y < h; y++) {
    const srow = src + <usize>(y * srcStride);
    const drow = dst + <usize>(((y + padTop) * wp + padLeft) * cs);
    if (cg == cgp) {
      memory.copy(drow, srow, <usize>(w * c));
    } else {
      for (let x = 0; x < w; x++) {
        const s = srow + <usize>(x * c);
        const d = drow + <usize>(x * cs);
        for (let g = 0; g < groups; g++) memory.copy(d + <usize>(g * cgp), s + <usize>(g * cg), <usize>cg);
      }
    }
  }
}

/**
 * 4 pixels x 8 output channels. xp: the first pixel's first tap; ps: bytes between the tile's
 * pixels; the reduction runs over kh rows of `outer` runs of `inner` channel pairs (a run is
 * contiguous in the padded image; consecutive runs are tapStep apart). Without `direct`, leaves 8
 * i32x4 in acc: pixel p's channels 0-3 at acc + 32p, 4-7 at acc + 32p + 16. With it, writes the
 * tile (4 whole pixels, `valid` channels) to out itself, from the registers (see writeTile).
 */
@inline
function tile4x8<T>(
  xp: usize, ps: usize, rowStride: usize, tapStep: usize,
  kh: i32, outer: i32, inner: i32, wp: usize, acc: usize, direct: bool,
  out: usize, outStride: usize, m: usize, b: usize, mode: i32, lo: i32, hi: i32,
  clamp: bool, flo: f32, fhi: f32, res: usize, cp: usize, valid: i32,
): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let a4 = i32x4.splat(0), a5 = i32x4.splat(0), a6 = i32x4.splat(0), a7 = i32x4.splat(0);
  const ps2 = ps << 1;
  const ps3 = ps2 + ps;
  for (let ky = 0; ky < kh; ky++) {
    let xr = xp + <usize>ky * rowStride;
    for (let t = 0; t < outer; t++) {
      let xq = xr;
      for (let i = 0; i < inner; i++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        let v = v128.load32_splat(xq);
        a0 = i32x4.add(a0, dot4<T>(v, w0));
        a1 = i32x4.add(a1, dot4<T>(v, w1));
        v = v128.load32_splat(xq + ps);
        a2 = i32x4.add(a2, dot4<T>(v, w0));
        a3 = i32x4.add(a3, dot4<T>(v, w1));
        v = v128.load32_splat(xq + ps2);
        a4 = i32x4.add(a4, dot4<T>(v, w0));
        a5 = i32x4.add(a5, dot4<T>(v, w1));
        v = v128.load32_splat(xq + ps3);
        a6 = i32x4.add(a6, dot4<T>(v, w0));
        a7 = i32x4.add(a7, dot4<T>(v, w1));
        xq += 4;
        wp += 32;
      }
      xr += tapStep;
    }
  }
  if (direct) {
    writeTile(out, outStride, a0, a1, a2, a3, a4, a5, a6, a7, m, b, mode, lo, hi, clamp, flo, fhi, res, cp, valid);
    return;
  }
  v128.store(acc, a0, 0);
  v128.store(acc, a1, 16);
  v128.store(acc, a2, 32);
  v128.store(acc, a3, 48);
  v128.store(acc, a4, 64);
  v128.store(acc, a5, 80);
  v128.store(acc, a6, 96);
  v128.store(acc, a7, 112);
}

/**
 * uint8 codes of 8 channels (a: 0-3, c: 4-7) in the low 8 bytes. Clamping before rounding equals
 * rounding first, the bounds being integers; pmin/pmax suffice as y is never NaN (finite m and b);
 * adding 1.5 * 2^23 rounds a value of [0, 255] half to even and leaves it in the low byte.
 */
@inline
function codes8(a: v128, c: v128, m0: v128, m1: v128, b0: v128, b1: v128, vlo: v128, vhi: v128): v128 {
  const magic = f32x4.splat(12582912.0);
  const p = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a), m0), b0), vlo), vhi), magic);
  const q = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c), m1), b1), vlo), vhi), magic);
  return i8x16.shuffle(p, q, 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
}

/** codes8 for 4 channels: their uint8 codes in the low 4 bytes. */
@inline
function codes4(a: v128, m: v128, b: v128, vlo: v128, vhi: v128): v128 {
  const p = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a), m), b), vlo), vhi), f32x4.splat(12582912.0));
  return i8x16.shuffle(p, p, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
}

// Partial stores and loads of a tile's last channels: lane stores, so that nothing past a pixel's
// valid channels is touched (the bytes after them may be another group's, another conv's in a
// fused concat, or past the end of the tensor). n is fixed for a whole conv, so the branches
// predict.

/** Stores the low n (1-8) bytes of v at dst. */
@inline
function storeBytes(dst: usize, v: v128, n: i32): void {
  if (n == 8) v128.store64_lane(dst, v, 0);
  else if (n == 4) v128.store32_lane(dst, v, 0);
  else {
    let at: usize = 0;
    if (n & 4) {
      v128.store32_lane(dst, v, 0);
      at = 4;
    }
    if (n & 2) {
      if (at == 0) v128.store16_lane(dst, v, 0);
      else v128.store16_lane(dst + 4, v, 2);
      at += 2;
    }
    if (n & 1) {
      if (at == 0) v128.store8_lane(dst, v, 0);
      else if (at == 2) v128.store8_lane(dst + 2, v, 2);
      else if (at == 4) v128.store8_lane(dst + 4, v, 4);
      else v128.store8_lane(dst + 6, v, 6);
    }
  }
}

/** Stores the first n (1-4) float32 lanes of v at dst. */
@inline
function storeFloats(dst: usize, v: v128, n: i32): void {
  if (n >= 4) v128.store(dst, v);
  else if (n == 2) v128.store64_lane(dst, v, 0);
  else if (n == 1) v128.store32_lane(dst, v, 0);
  else {
    v128.store64_lane(dst, v, 0);
    v128.store32_lane(dst + 8, v, 2);
  }
}

/** The first n (1-4) float32 lanes at src, the others 0. */
@inline
function loadFloats(src: usize, n: i32): v128 {
  if (n >= 4) return v128.load(src);
  if (n == 2) return v128.load64_zero(src);
  if (n == 1) return v128.load32_zero(src);
  return v128.load32_lane(src + 8, v128.load64_zero(src), 2);
}

/** float32 outputs of 4 channels; no clamp when both bounds are infinite (y is never NaN). */
@inline
function floats4(a: v128, m: v128, b: v128, clamp: bool, vflo: v128, vfhi: v128): v128 {
  const y = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a), m), b);
  return clamp ? f32x4.min(f32x4.max(y, vflo), vfhi) : y;
}

// A conv with a float32 output can also write its output's activation codes, computed from the
// final float32 values as the quantize layer does (that layer, fused), and then skip the float32
// output itself when nothing else reads it: set by convolve per call.
let quantOn = false;
let quantPixel: usize = 0;
let quantStep: f64 = 1;
let quantInv: f32 = 1;
let quantMax: i32 = 255;
let floatsOn = true;

/** The fused quantizer of the next conv: codes `pixel` bytes apart; floats: the float32 output too. */
function setQuantizer(on: bool, pixel: usize, step: f64, max: i32, floats: bool): void {
  quantOn = on;
  quantPixel = pixel;
  quantStep = step;
  quantInv = <f32>(1.0 / step);
  quantMax = max;
  floatsOn = floats;
}

/** A conv's fused quantizer (codes 0: none, and none for int32 outputs); floats: the float32 output too. */
@inline
function startConv(codes: usize, mode: i32, codePixel: i32, step: f64, qmax: i32, floats: bool): void {
  const quantized = codes != 0 && mode != MODE_INT32;
  setQuantizer(quantized, <usize>codePixel, step, qmax, floats || !quantized);
}

/** Whether flo, fhi bound the conv's own float32 output; with MODE_FLOAT32_ADD_CLAMP they bound the sum instead. */
@inline
function clampsOwnOutput(mode: i32, flo: f32, fhi: f32): bool {
  return mode != MODE_FLOAT32_ADD_CLAMP && (flo != -Infinity || fhi != Infinity);
}

/** The fused quantizer's codes of 4 float32 values (as i32 lanes). */
@inline
function fusedCodes(y: v128, vstep: v128, vmax: v128): v128 {
  return quantCodes(y, vstep, f32x4.splat(quantInv), f32x4.splat(<f32>(quantMax + 1)), vmax);
}

/** The codes of 8 float32 values in the low 8 bytes. */
@inline
function quantize8(y0: v128, y1: v128, vstep: v128, vmax: v128): v128 {
  const a = fusedCodes(y0, vstep, vmax);
  const b = fusedCodes(y1, vstep, vmax);
  return narrowBytes(a, b, a, b);
}

/**
 * storeTile for 4 whole pixels of a 4 x 8 tile whose accumulators are still in registers: `valid`
 * (1-8) channels of each, stored with vector and lane stores.
 */
@inline
function writeTile(
  out: usize, outStride: usize, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128,
  m: usize, b: usize, mode: i32, lo: i32, hi: i32, clamp: bool, flo: f32, fhi: f32, res: usize, cp: usize, valid: i32,
): void {
  const m0 = v128.load(m);
  const m1 = v128.load(m, 16);
  const b0 = v128.load(b);
  const b1 = v128.load(b, 16);
  if (mode == MODE_UINT8) {
    const vlo = f32x4.splat(<f32>lo);
    const vhi = f32x4.splat(<f32>hi);
    storeBytes(out, codes8(a0, a1, m0, m1, b0, b1, vlo, vhi), valid);
    storeBytes(out + outStride, codes8(a2, a3, m0, m1, b0, b1, vlo, vhi), valid);
    storeBytes(out + (outStride << 1), codes8(a4, a5, m0, m1, b0, b1, vlo, vhi), valid);
    storeBytes(out + outStride * 3, codes8(a6, a7, m0, m1, b0, b1, vlo, vhi), valid);
    return;
  }
  const vflo = f32x4.splat(flo);
  const vfhi = f32x4.splat(fhi);
  let y0 = floats4(a0, m0, b0, clamp, vflo, vfhi);
  let y1 = floats4(a1, m1, b1, clamp, vflo, vfhi);
  let y2 = floats4(a2, m0, b0, clamp, vflo, vfhi);
  let y3 = floats4(a3, m1, b1, clamp, vflo, vfhi);
  let y4 = floats4(a4, m0, b0, clamp, vflo, vfhi);
  let y5 = floats4(a5, m1, b1, clamp, vflo, vfhi);
  let y6 = floats4(a6, m0, b0, clamp, vflo, vfhi);
  let y7 = floats4(a7, m1, b1, clamp, vflo, vfhi);
  const o1 = outStride;
  const o2 = outStride << 1;
  const o3 = outStride * 3;
  // Channels 0-3 (n0 of them valid) in y0, y2, y4, y6; channels 4-7 (n1) in the others.
  const n0 = valid < 4 ? valid : 4;
  const n1 = valid - 4;
  if (mode >= MODE_FLOAT32_ADD) {
    y0 = f32x4.add(y0, loadFloats(res, n0));
    y2 = f32x4.add(y2, loadFloats(res + o1, n0));
    y4 = f32x4.add(y4, loadFloats(res + o2, n0));
    y6 = f32x4.add(y6, loadFloats(res + o3, n0));
    if (n1 > 0) {
      y1 = f32x4.add(y1, loadFloats(res + 16, n1));
      y3 = f32x4.add(y3, loadFloats(res + o1 + 16, n1));
      y5 = f32x4.add(y5, loadFloats(res + o2 + 16, n1));
      y7 = f32x4.add(y7, loadFloats(res + o3 + 16, n1));
    }
  }
  if (mode == MODE_FLOAT32_ADD_CLAMP) {
    y0 = f32x4.min(f32x4.max(y0, vflo), vfhi);
    y1 = f32x4.min(f32x4.max(y1, vflo), vfhi);
    y2 = f32x4.min(f32x4.max(y2, vflo), vfhi);
    y3 = f32x4.min(f32x4.max(y3, vflo), vfhi);
    y4 = f32x4.min(f32x4.max(y4, vflo), vfhi);
    y5 = f32x4.min(f32x4.max(y5, vflo), vfhi);
    y6 = f32x4.min(f32x4.max(y6, vflo), vfhi);
    y7 = f32x4.min(f32x4.max(y7, vflo), vfhi);
  }
  if (floatsOn) {
    storeFloats(out, y0, n0);
    storeFloats(out + o1, y2, n0);
    storeFloats(out + o2, y4, n0);
    storeFloats(out + o3, y6, n0);
    if (n1 > 0) {
      storeFloats(out + 16, y1, n1);
      storeFloats(out + o1 + 16, y3, n1);
      storeFloats(out + o2 + 16, y5, n1);
      storeFloats(out + o3 + 16, y7, n1);
    }
  }
  if (quantOn) {
    const vstep = f64x2.splat(quantStep);
    const vmax = i32x4.splat(quantMax);
    const p = quantPixel;
    storeBytes(cp, quantize8(y0, y1, vstep, vmax), valid);
    storeBytes(cp + p, quantize8(y2, y3, vstep, vmax), valid);
    storeBytes(cp + (p << 1), quantize8(y4, y5, vstep, vmax), valid);
    storeBytes(cp + p * 3, quantize8(y6, y7, vstep, vmax), valid);
  }
}

/** One pixel of a 8 x 4 tile (accumulators a, `valid` 1-4 channels), stored as storeTile does. */
@inline
function writePixel4(
  out: usize, a: v128, m0: v128, b0: v128, mode: i32, vlo: v128, vhi: v128, clamp: bool, vflo: v128, vfhi: v128,
  res: usize, cp: usize, valid: i32, vstep: v128, vmax: v128,
): void {
  if (mode == MODE_UINT8) {
    storeBytes(out, codes4(a, m0, b0, vlo, vhi), valid);
    return;
  }
  let y = floats4(a, m0, b0, clamp, vflo, vfhi);
  if (mode >= MODE_FLOAT32_ADD) y = f32x4.add(y, loadFloats(res, valid));
  if (mode == MODE_FLOAT32_ADD_CLAMP) y = f32x4.min(f32x4.max(y, vflo), vfhi);
  if (floatsOn) storeFloats(out, y, valid);
  if (quantOn) {
    const c = fusedCodes(y, vstep, vmax);
    storeBytes(cp, narrowBytes(c, c, c, c), valid);
  }
}

/**
 * 8 pixels x 4 output channels (a group's last 1-4 channels). Without `direct`, pixel p's sums at
 * acc + 16p; with it, the 8 pixels' `valid` channels written to out (see writePixel4).
 */
@inline
function tile8x4<T>(
  xp: usize, ps: usize, rowStride: usize, tapStep: usize,
  kh: i32, outer: i32, inner: i32, wp: usize, acc: usize, direct: bool,
  out: usize, outStride: usize, m: usize, b: usize, mode: i32, lo: i32, hi: i32,
  clamp: bool, flo: f32, fhi: f32, res: usize, cp: usize, valid: i32,
): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let a4 = i32x4.splat(0), a5 = i32x4.splat(0), a6 = i32x4.splat(0), a7 = i32x4.splat(0);
  const ps2 = ps << 1;
  const ps3 = ps2 + ps;
  const ps4 = ps2 << 1;
  for (let ky = 0; ky < kh; ky++) {
    let xr = xp + <usize>ky * rowStride;
    for (let t = 0; t < outer; t++) {
      let xq = xr;
      for (let i = 0; i < inner; i++) {
        const w0 = v128.load(wp);
        const xh = xq + ps4;
        a0 = i32x4.add(a0, dot4<T>(v128.load32_splat(xq), w0));
        a1 = i32x4.add(a1, dot4<T>(v128.load32_splat(xq + ps), w0));
        a2 = i32x4.add(a2, dot4<T>(v128.load32_splat(xq + ps2), w0));
        a3 = i32x4.add(a3, dot4<T>(v128.load32_splat(xq + ps3), w0));
        a4 = i32x4.add(a4, dot4<T>(v128.load32_splat(xh), w0));
        a5 = i32x4.add(a5, dot4<T>(v128.load32_splat(xh + ps), w0));
        a6 = i32x4.add(a6, dot4<T>(v128.load32_splat(xh + ps2), w0));
        a7 = i32x4.add(a7, dot4<T>(v128.load32_splat(xh + ps3), w0));
        xq += 4;
        wp += 16;
      }
      xr += tapStep;
    }
  }
  if (direct) {
    const m0 = v128.load(m);
    const b0 = v128.load(b);
    const vlo = f32x4.splat(<f32>lo);
    const vhi = f32x4.splat(<f32>hi);
    const vflo = f32x4.splat(flo);
    const vfhi = f32x4.splat(fhi);
    const vstep = f64x2.splat(quantStep);
    const vmax = i32x4.splat(quantMax);
    const q = quantPixel;
    writePixel4(out, a0, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res, cp, valid, vstep, vmax);
    writePixel4(out + outStride, a1, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride, cp + q, valid, vstep, vmax);
    writePixel4(out + outStride * 2, a2, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 2, cp + q * 2, valid, vstep, vmax);
    writePixel4(out + outStride * 3, a3, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 3, cp + q * 3, valid, vstep, vmax);
    writePixel4(out + outStride * 4, a4, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 4, cp + q * 4, valid, vstep, vmax);
    writePixel4(out + outStride * 5, a5, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 5, cp + q * 5, valid, vstep, vmax);
    writePixel4(out + outStride * 6, a6, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 6, cp + q * 6, valid, vstep, vmax);
    writePixel4(out + outStride * 7, a7, m0, b0, mode, vlo, vhi, clamp, vflo, vfhi, res + outStride * 7, cp + q * 7, valid, vstep, vmax);
    return;
  }
  v128.store(acc, a0, 0);
  v128.store(acc, a1, 16);
  v128.store(acc, a2, 32);
  v128.store(acc, a3, 48);
  v128.store(acc, a4, 64);
  v128.store(acc, a5, 80);
  v128.store(acc, a6, 96);
  v128.store(acc, a7, 112);
}

/**
 * tile4x8<i8> for low-bit layers: the relaxed dot's int16 lanes are summed in int16 for `chunk`
 * steps before widening, which halves the multiplies. Exact because the caller picks chunk so that
 * chunk · 2 · max(x) · max|w| <= 32767 (and rejects inputs above max(x)).
 */
function tile4x8Chunked(
  xp: usize, ps: usize, rowStride: usize, tapStep: usize,
  kh: i32, outer: i32, inner: i32, wp: usize, acc: usize, chunk: i32,
): void {
  const zero = i32x4.splat(0);
  for (let k: usize = 0; k < 8; k++) v128.store(acc + (k << 4), zero);
  let s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero, s6 = zero, s7 = zero;
  const ps2 = ps << 1;
  const ps3 = ps2 + ps;
  let left = chunk;
  for (let ky = 0; ky < kh; ky++) {
    let xr = xp + <usize>ky * rowStride;
    for (let t = 0; t < outer; t++) {
      let xq = xr;
      for (let i = 0; i < inner; i++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        let v = v128.load32_splat(xq);
        s0 = i16x8.add(s0, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v));
        s1 = i16x8.add(s1, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v));
        v = v128.load32_splat(xq + ps);
        s2 = i16x8.add(s2, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v));
        s3 = i16x8.add(s3, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v));
        v = v128.load32_splat(xq + ps2);
        s4 = i16x8.add(s4, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v));
        s5 = i16x8.add(s5, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v));
        v = v128.load32_splat(xq + ps3);
        s6 = i16x8.add(s6, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v));
        s7 = i16x8.add(s7, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v));
        xq += 4;
        wp += 32;
        if (--left == 0) {
          widenInto(acc, s0, s1, s2, s3, s4, s5, s6, s7);
          s0 = zero; s1 = zero; s2 = zero; s3 = zero; s4 = zero; s5 = zero; s6 = zero; s7 = zero;
          left = chunk;
        }
      }
      xr += tapStep;
    }
  }
  widenInto(acc, s0, s1, s2, s3, s4, s5, s6, s7);
}

/** Adds the pairwise-widened int16 sums to the 8 i32x4 accumulators at acc. */
@inline
function widenInto(acc: usize, s0: v128, s1: v128, s2: v128, s3: v128, s4: v128, s5: v128, s6: v128, s7: v128): void {
  v128.store(acc, i32x4.add(v128.load(acc, 0), i32x4.extadd_pairwise_i16x8_s(s0)), 0);
  v128.store(acc, i32x4.add(v128.load(acc, 16), i32x4.extadd_pairwise_i16x8_s(s1)), 16);
  v128.store(acc, i32x4.add(v128.load(acc, 32), i32x4.extadd_pairwise_i16x8_s(s2)), 32);
  v128.store(acc, i32x4.add(v128.load(acc, 48), i32x4.extadd_pairwise_i16x8_s(s3)), 48);
  v128.store(acc, i32x4.add(v128.load(acc, 64), i32x4.extadd_pairwise_i16x8_s(s4)), 64);
  v128.store(acc, i32x4.add(v128.load(acc, 80), i32x4.extadd_pairwise_i16x8_s(s5)), 80);
  v128.store(acc, i32x4.add(v128.load(acc, 96), i32x4.extadd_pairwise_i16x8_s(s6)), 96);
  v128.store(acc, i32x4.add(v128.load(acc, 112), i32x4.extadd_pairwise_i16x8_s(s7)), 112);
}

/** Requantizes one i32x4 of accumulators to uint8 codes (as i32 lanes). */
@inline
function requantU8(acc: v128, m: v128, b: v128, vlo: v128, vhi: v128): v128 {
  const y = f32x4.nearest(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(acc), m), b));
  return i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(y), vlo), vhi);
}

/**
 * Writes `pixels` pixels of a tile whose accumulators are at acc (per pixel `lanes` i32, lanes = 4
 * or 8) to out, `valid` channels each, pixels outStride bytes apart.
 *   uint8:        clamp(nearestEven(f32(f32(acc) * m) + b), lo, hi)
 *   int32:        acc
 *   float32:      min(max(f32(f32(acc) * m) + b, flo), fhi)
 *   float32 add:  f32(that + res), res a float32 tensor laid out like the output (a fused residual add)
 *   add, clamp:   min(max(f32(f32(f32(acc) * m) + b) + res), flo), fhi) (the add and a clamp after it)
 * f32(.) is IEEE-754 binary32 rounding to nearest even; there is no fused multiply-add. Full
 * vectors are stored directly; only a block's last channels go through scalar stores.
 */
export function storeTile(
  acc: usize, pixels: i32, lanes: i32, valid: i32, out: usize, outStride: usize,
  m: usize, b: usize, mode: i32, lo: i32, hi: i32, flo: f32, fhi: f32, res: usize, codeAt: usize,
): void {
  const tmp = acc + 8 * 8 * 4;
  const quads = lanes >> 2;
  if (mode == MODE_UINT8) {
    const vlo = i32x4.splat(lo);
    const vhi = i32x4.splat(hi);
    const m0 = v128.load(m);
    const b0 = v128.load(b);
    if (lanes == 8) {
      const m1 = v128.load(m, 16);
      const b1 = v128.load(b, 16);
      for (let p = 0; p < pixels; p++) {
        const src = acc + <usize>(p << 5);
        const dst = out + <usize>p * outStride;
        const h = i16x8.narrow_i32x4_s(requantU8(v128.load(src), m0, b0, vlo, vhi), requantU8(v128.load(src, 16), m1, b1, vlo, vhi));
        const bytes = i8x16.narrow_i16x8_u(h, h);
        if (valid == 8) v128.store64_lane(dst, bytes, 0);
        else {
          v128.store(tmp, bytes);
          for (let j = 0; j < valid; j++) store<u8>(dst + <usize>j, load<u8>(tmp + <usize>j));
        }
      }
    } else {
      for (let p = 0; p < pixels; p++) {
        const src = acc + <usize>(p << 4);
        const dst = out + <usize>p * outStride;
        const r = requantU8(v128.load(src), m0, b0, vlo, vhi);
        const h = i16x8.narrow_i32x4_s(r, r);
        const bytes = i8x16.narrow_i16x8_u(h, h);
        if (valid == 4) v128.store32_lane(dst, bytes, 0);
        else {
          v128.store(tmp, bytes);
          for (let j = 0; j < valid; j++) store<u8>(dst + <usize>j, load<u8>(tmp + <usize>j));
        }
      }
    }
    return;
  }
  const vflo = f32x4.splat(flo);
  const vfhi = f32x4.splat(fhi);
  const vstep = f64x2.splat(quantStep);
  const vmax = i32x4.splat(quantMax);
  for (let p = 0; p < pixels; p++) {
    const src = acc + <usize>(p * lanes * 4);
    const dst = out + <usize>p * outStride;
    const rp = res + <usize>p * outStride;
    const cp = codeAt + <usize>p * quantPixel;
    for (let k = 0; k < quads; k++) {
      const o = <usize>(k << 4);
      const left = valid - (k << 2);
      if (left <= 0) break;
      let y = v128.load(src + o);
      const n = left < 4 ? left : 4;
      if (mode != MODE_INT32) {
        y = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(y), v128.load(m + o)), v128.load(b + o));
        if (mode != MODE_FLOAT32_ADD_CLAMP) y = f32x4.min(f32x4.max(y, vflo), vfhi);
        // Only the valid lanes of the residual are read: the vector may end past its tensor.
        if (mode >= MODE_FLOAT32_ADD) y = f32x4.add(y, loadFloats(rp + o, n));
        if (mode == MODE_FLOAT32_ADD_CLAMP) y = f32x4.min(f32x4.max(y, vflo), vfhi);
      }
      if (floatsOn) storeFloats(dst + o, y, n);
      if (quantOn) {
        const c = fusedCodes(y, vstep, vmax);
        storeBytes(cp + <usize>(k << 2), narrowBytes(c, c, c, c), n);
      }
    }
  }
}

/**
 * The convolution over a padded image (T = i16: made by padWidenI16, channel pairs; T = i8: made by
 * padU8, channel quads).
 *   x, rowStride: the padded image and the bytes between its rows
 *   pixStep: bytes between the first taps of horizontally adjacent outputs (stride * pixel bytes)
 *   tapStep: bytes between horizontally adjacent taps (pixel bytes); groupStep: bytes of a group
 *   outer, inner: per kernel row, `outer` contiguous runs of `inner` 4-byte channel steps (1 and
 *     kw * steps without groups, kw and steps with)
 *   coutG: output channels per group; cout: output channels in all (the output's pixel stride)
 *   w, m, b: packed weights, multipliers, offsets, in block order (see src/conv-pack.ts)
 *   elem: bytes per output element (1, 4)
 *   scratch: TILE_SCRATCH_BYTES of 16-byte-aligned memory
 *   chunk (T = i8 only): > 1 sums the relaxed dots of 8-channel blocks in int16 for that many steps
 *   res, resRowStride (modes MODE_FLOAT32_ADD, _CLAMP): the residual added to the output, its pixels laid
 *     out like the output's (cout float32), its rows resRowStride bytes apart
 *   codes, codePixel, step, qmax (float32 modes; codes 0: none): also writes
 *     clamp(roundHalfEven(f32(y / step)), 0, qmax) of each output y there, as uint8, pixels
 *     codePixel bytes apart (heap addresses are never 0); floats: whether to write the float32
 *     output too (always when there are no codes)
 */
@inline
export function convolve<T>(
  x: usize, rowStride: i32, pixStep: i32, tapStep: i32, groupStep: i32,
  outH: i32, outW: i32, stride: i32,
  kh: i32, outer: i32, inner: i32,
  groups: i32, coutG: i32, cout: i32,
  w: usize, m: usize, b: usize,
  mode: i32, lo: i32, hi: i32, flo: f32, fhi: f32,
  out: usize, elem: i32, scratch: usize, chunk: i32, res: usize, resRowStride: i32,
  codes: usize, codePixel: i32, step: f64, qmax: i32, floats: bool,
): void {
  startConv(codes, mode, codePixel, step, qmax, floats);
  const outStride = <usize>(cout * elem);
  const clamp = clampsOwnOutput(mode, flo, fhi);
  const ps = <usize>pixStep;
  const rs = <usize>rowStride;
  const ts = <usize>tapStep;
  const taps = kh * outer * inner;
  for (let oy = 0; oy < outH; oy++) {
    const xrow = x + <usize>(oy * stride) * rs;
    const orow = out + <usize>(oy * outW) * outStride;
    const rrow = res + <usize>(oy * resRowStride);
    const crow = codes + <usize>(oy * outW * codePixel);
    let wb = w;
    let mb = m;
    let bb = b;
    for (let g = 0; g < groups; g++) {
      const xg = xrow + <usize>(g * groupStep);
      for (let c0 = 0; c0 < coutG; c0 += 8) {
        const left = coutG - c0;
        const oc = orow + <usize>((g * coutG + c0) * elem);
        const rc = rrow + <usize>((g * coutG + c0) << 2);
        const cc = crow + <usize>(g * coutG + c0);
        if (left > 4) {
          const valid = left < 8 ? left : 8;
          for (let ox = 0; ox < outW; ox += 4) {
            const n = outW - ox < 4 ? outW - ox : 4;
            const dst = oc + <usize>ox * outStride;
            const rp = rc + <usize>ox * outStride;
            const cp = cc + <usize>(ox * codePixel);
            if (sizeof<T>() == 1 && chunk > 1) {
              tile4x8Chunked(xg + <usize>ox * ps, ps, rs, ts, kh, outer, inner, wb, scratch, chunk);
            } else if (n == 4 && mode != MODE_INT32) {
              // 4 whole pixels: written straight from the accumulator registers.
              tile4x8<T>(xg + <usize>ox * ps, ps, rs, ts, kh, outer, inner, wb, scratch,
                true, dst, outStride, mb, bb, mode, lo, hi, clamp, flo, fhi, rp, cp, valid);
              continue;
            } else {
              tile4x8<T>(xg + <usize>ox * ps, ps, rs, ts, kh, outer, inner, wb, scratch,
                false, 0, 0, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0);
            }
            storeTile(scratch, n, 8, valid, dst, outStride, mb, bb, mode, lo, hi, flo, fhi, rp, cp);
          }
          wb += <usize>(taps * 32);
          mb += 32;
          bb += 32;
        } else {
          for (let ox = 0; ox < outW; ox += 8) {
            const n = outW - ox < 8 ? outW - ox : 8;
            const dst = oc + <usize>ox * outStride;
            const rp = rc + <usize>ox * outStride;
            const cp = cc + <usize>(ox * codePixel);
            if (n == 8 && mode != MODE_INT32) {
              tile8x4<T>(xg + <usize>ox * ps, ps, rs, ts, kh, outer, inner, wb, scratch,
                true, dst, outStride, mb, bb, mode, lo, hi, clamp, flo, fhi, rp, cp, left);
              continue;
            }
            tile8x4<T>(xg + <usize>ox * ps, ps, rs, ts, kh, outer, inner, wb, scratch,
              false, 0, 0, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0);
            storeTile(scratch, n, 4, left, dst, outStride, mb, bb, mode, lo, hi, flo, fhi, rp, cp);
          }
          wb += <usize>(taps * 16);
          mb += 16;
          bb += 16;
        }
      }
    }
  }
}

/** convolve over int16 channel pairs (plain SIMD128); chunk is ignored (convI8Relaxed's signature). */
export function convI16(
  x: usize, rowStride: i32, pixStep: i32, tapStep: i32, groupStep: i32,
  outH: i32, outW: i32, stride: i32,
  kh: i32, outer: i32, inner: i32,
  groups: i32, coutG: i32, cout: i32,
  w: usize, m: usize, b: usize,
  mode: i32, lo: i32, hi: i32, flo: f32, fhi: f32,
  out: usize, elem: i32, scratch: usize, chunk: i32, res: usize, resRowStride: i32,
  codes: usize, codePixel: i32, step: f64, qmax: i32, floats: bool,
): void {
  convolve<i16>(x, rowStride, pixStep, tapStep, groupStep, outH, outW, stride, kh, outer, inner,
    groups, coutG, cout, w, m, b, mode, lo, hi, flo, fhi, out, elem, scratch, 0, res, resRowStride,
    codes, codePixel, step, qmax, floats);
}

/** The largest of n bytes at src: the relaxed kernel's check that inputs fit the declared bits. */
export function maxU8(src: usize, n: i32): i32 {
  let m = i8x16.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) m = i8x16.max_u(m, v128.load(src + <usize>i));
  // Fold the 16 lanes in halves.
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
  let r = <i32>i8x16.extract_lane_u(m, 0);
  for (; i < n; i++) {
    const v = <i32>load<u8>(src + <usize>i);
    if (v > r) r = v;
  }
  return r;
}

/**
 * The 3-output-channel conv (an RGB tail, ESA's 3-channel convs): groups 1, stride 1, 3 or 4
 * input channels (padded to 4 int16: 8 bytes a pixel). Instead of 3 of 4 lanes of output channels,
 * each 16-byte load holds 2 whole pixels and a dot with an output's weights
 * [w(c0..c3), w(c0..c3)] gives both pixels' 2 partial sums; 4 pixels' 12 sums come out as 3 full
 * vectors in the output's own order (pixel-major, 3 channels), so the multipliers and offsets are
 * the repeating patterns [m0 m1 m2 m0], [m1 m2 m0 m1], [m2 m0 m1 m2] and every store is whole.
 * Weights: per tap (row, column) 3 vectors, output o's 4 input channels twice. Same arguments as
 * convI16 (pixStep, tapStep, groupStep, outer, groups, coutG: as the generic layout gives them; the
 * kernel width is inner / 2); chunk is ignored.
 */
export function convI16Rgb(
  x: usize, rowStride: i32, pixStep: i32, tapStep: i32, groupStep: i32,
  outH: i32, outW: i32, stride: i32,
  kh: i32, outer: i32, inner: i32,
  groups: i32, coutG: i32, cout: i32,
  w: usize, m: usize, b: usize,
  mode: i32, lo: i32, hi: i32, flo: f32, fhi: f32,
  out: usize, elem: i32, scratch: usize, chunk: i32, res: usize, resRowStride: i32,
  codes: usize, codePixel: i32, step: f64, qmax: i32, floats: bool,
): void {
  startConv(codes, mode, codePixel, step, qmax, floats);
  const outStride = <usize>(3 * elem);
  const clamp = clampsOwnOutput(mode, flo, fhi);
  const rs = <usize>rowStride;
  const kw = inner >> 1;
  const m0 = v128.load(m);
  const m1 = v128.load(m, 16);
  const m2 = v128.load(m, 32);
  const b0 = v128.load(b);
  const b1 = v128.load(b, 16);
  const b2 = v128.load(b, 32);
  const vlo = f32x4.splat(<f32>lo);
  const vhi = f32x4.splat(<f32>hi);
  const vflo = f32x4.splat(flo);
  const vfhi = f32x4.splat(fhi);
  const vstep = f64x2.splat(quantStep);
  const inv = f32x4.splat(quantInv);
  const top = f32x4.splat(<f32>(quantMax + 1));
  const vmax = i32x4.splat(quantMax);
  const magic = f32x4.splat(12582912.0);
  for (let oy = 0; oy < outH; oy++) {
    const xrow = x + <usize>oy * rs;
    const orow = out + <usize>(oy * outW) * outStride;
    const rrow = res + <usize>(oy * resRowStride);
    const crow = codes + <usize>(oy * outW * codePixel);
    for (let ox = 0; ox < outW; ox += 4) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0);
      let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0);
      let wp = w;
      for (let ky = 0; ky < kh; ky++) {
        let xq = xrow + <usize>ky * rs + (<usize>ox << 3);
        for (let kx = 0; kx < kw; kx++) {
          const w0 = v128.load(wp);
          const w1 = v128.load(wp, 16);
          const w2 = v128.load(wp, 32);
          const v = v128.load(xq);
          const u = v128.load(xq, 16);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v, w0));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v, w1));
          a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v, w2));
          c0 = i32x4.add(c0, i32x4.dot_i16x8_s(u, w0));
          c1 = i32x4.add(c1, i32x4.dot_i16x8_s(u, w1));
          c2 = i32x4.add(c2, i32x4.dot_i16x8_s(u, w2));
          xq += 8;
          wp += 48;
        }
      }
      // a_o = [p0: c0c1, p0: c2c3, p1: c0c1, p1: c2c3] for output o; c_o the same for p2, p3.
      // s = [p0o0 p1o0 p0o1 p1o1], t = [p0o2 p1o2 p2o0 p3o0], u = [p2o1 p3o1 p2o2 p3o2].
      const s = i32x4.add(
        i8x16.shuffle(a0, a1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27),
        i8x16.shuffle(a0, a1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31),
      );
      const t = i32x4.add(
        i8x16.shuffle(a2, c0, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27),
        i8x16.shuffle(a2, c0, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31),
      );
      const u = i32x4.add(
        i8x16.shuffle(c1, c2, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27),
        i8x16.shuffle(c1, c2, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31),
      );
      // Pixel-major: [p0o0 p0o1 p0o2 p1o0], [p1o1 p1o2 p2o0 p2o1], [p2o2 p3o0 p3o1 p3o2].
      const v0 = i8x16.shuffle(s, t, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 4, 5, 6, 7);
      const st = i8x16.shuffle(s, t, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 26, 27, 0, 1, 2, 3);
      const v1 = i8x16.shuffle(st, u, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19);
      const v2 = i8x16.shuffle(u, t, 8, 9, 10, 11, 28, 29, 30, 31, 4, 5, 6, 7, 12, 13, 14, 15);
      const dst = orow + <usize>ox * outStride;
      const rp = rrow + <usize>ox * outStride;
      const cp = crow + <usize>(ox * codePixel);
      if (ox + 4 > outW) {
        // The row's last 1-3 pixels: through storeTile, one pixel (3 of 4 lanes) at a time.
        v128.store(scratch + 128, v0);
        v128.store(scratch + 128, v1, 16);
        v128.store(scratch + 128, v2, 32);
        for (let p = 0; p < 4; p++) {
          for (let o = 0; o < 3; o++) store<i32>(scratch + <usize>((p << 4) + (o << 2)), load<i32>(scratch + 128 + <usize>((p * 3 + o) << 2)));
        }
        storeTile(scratch, outW - ox, 4, 3, dst, outStride, m, b, mode, lo, hi, flo, fhi, rp, cp);
        continue;
      }
      if (mode == MODE_INT32) {
        v128.store(dst, v0);
        v128.store(dst, v1, 16);
        v128.store(dst, v2, 32);
        continue;
      }
      if (mode == MODE_UINT8) {
        const p0 = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v0), m0), b0), vlo), vhi), magic);
        const p1 = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v1), m1), b1), vlo), vhi), magic);
        const p2 = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v2), m2), b2), vlo), vhi), magic);
        v128.store64_lane(dst, i8x16.shuffle(p0, p1, 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28), 0);
        v128.store32_lane(dst + 8, i8x16.shuffle(p2, p2, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12), 0);
        continue;
      }
      let y0 = floats4(v0, m0, b0, clamp, vflo, vfhi);
      let y1 = floats4(v1, m1, b1, clamp, vflo, vfhi);
      let y2 = floats4(v2, m2, b2, clamp, vflo, vfhi);
      if (mode >= MODE_FLOAT32_ADD) {
        y0 = f32x4.add(y0, v128.load(rp));
        y1 = f32x4.add(y1, v128.load(rp, 16));
        y2 = f32x4.add(y2, v128.load(rp, 32));
      }
      if (mode == MODE_FLOAT32_ADD_CLAMP) {
        y0 = f32x4.min(f32x4.max(y0, vflo), vfhi);
        y1 = f32x4.min(f32x4.max(y1, vflo), vfhi);
        y2 = f32x4.min(f32x4.max(y2, vflo), vfhi);
      }
      if (floatsOn) {
        v128.store(dst, y0);
        v128.store(dst, y1, 16);
        v128.store(dst, y2, 32);
      }
      if (quantOn) {
        const e0 = quantCodes(y0, vstep, inv, top, vmax);
        const e1 = quantCodes(y1, vstep, inv, top, vmax);
        const e2 = quantCodes(y2, vstep, inv, top, vmax);
        const bytes = narrowBytes(e0, e1, e2, e2);
        if (quantPixel == 3) {
          v128.store64_lane(cp, bytes, 0);
          v128.store32_lane(cp + 8, bytes, 2);
        } else {
          const q = quantPixel;
          // 3 bytes a pixel, pixels q apart (a slice of a concat's channels).
          v128.store16_lane(cp, bytes, 0);
          v128.store8_lane(cp + 2, bytes, 2);
          v128.store8_lane(cp + q, bytes, 3);
          v128.store16_lane(cp + q + 1, bytes, 2);
          v128.store16_lane(cp + (q << 1), bytes, 3);
          v128.store8_lane(cp + (q << 1) + 2, bytes, 8);
          v128.store8_lane(cp + q * 3, bytes, 9);
          v128.store16_lane(cp + q * 3 + 1, bytes, 5);
        }
      }
    }
  }
}
