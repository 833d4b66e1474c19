// The integer engine's layers other than conv, over tensors in linear memory. Tensors are NHWC;
// every function takes byte addresses and byte row strides, so it reads and writes rectangles of
// larger tensors in place. The arithmetic is that of src/reference-engine.ts bit for bit:
// WebAssembly rounds every f32 operation (no fused multiply-add, no wider intermediates), each
// SIMD lane computes exactly what the scalar instruction does (f32x4.min/max propagate NaN and
// order -0 < +0 like f32.min/max and Math.min/max), and a quantizer divides in f64, as the
// reference does, because its step need not be a float32.
import { code, codes as codesOf, narrowBytes, quantCodes } from './quantizer';

/**
 * The activation quantizer: dst = clamp(roundHalfEven(f32(src / step)), 0, max), over `rows` rows
 * of w runs of n float32 values (src) and n bytes (dst); a row of one run for a whole tensor, a
 * pixel's channels per run for a slice of a concat's channels.
 */
export function quantize(
  src: usize, srcStride: i32, srcRun: i32, dst: usize, dstStride: i32, dstRun: i32,
  rows: i32, w: i32, n: i32, step: f64, max: i32,
): void {
  const vs = f64x2.splat(step);
  const inv = f32x4.splat(<f32>(1.0 / step));
  const top = f32x4.splat(<f32>(max + 1));
  const vmax = i32x4.splat(max);
  for (let y = 0; y < rows; y++) {
    let s = src + <usize>(y * srcStride);
    let d = dst + <usize>(y * dstStride);
    for (let x = 0; x < w; x++) {
      let i = 0;
      for (; i + 16 <= n; i += 16) {
        const p = s + (<usize>i << 2);
        const a = quantCodes(v128.load(p), vs, inv, top, vmax);
        const b = quantCodes(v128.load(p, 16), vs, inv, top, vmax);
        const c = quantCodes(v128.load(p, 32), vs, inv, top, vmax);
        const e = quantCodes(v128.load(p, 48), vs, inv, top, vmax);
        v128.store(d + <usize>i, narrowBytes(a, b, c, e));
      }
      if (i + 8 <= n) {
        const p = s + (<usize>i << 2);
        const a = quantCodes(v128.load(p), vs, inv, top, vmax);
        const b = quantCodes(v128.load(p, 16), vs, inv, top, vmax);
        v128.store64_lane(d + <usize>i, narrowBytes(a, b, a, b), 0);
        i += 8;
      }
      if (i + 4 <= n) {
        const a = quantCodes(v128.load(s + (<usize>i << 2)), vs, inv, top, vmax);
        v128.store32_lane(d + <usize>i, narrowBytes(a, a, a, a), 0);
        i += 4;
      }
      for (; i < n; i++) store<u8>(d + <usize>i, code(<f32>(<f64>load<f32>(s + (<usize>i << 2)) / step), max));
      s += <usize>srcRun;
      d += <usize>dstRun;
    }
  }
}

/** The output image: dst = clamp(roundHalfEven(f32(src · 255)), 0, 255), NaN → 0. */
export function outputBytes(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, n: i32): void {
  const k = f32x4.splat(255);
  const vmax = i32x4.splat(255);
  for (let y = 0; y < rows; y++) {
    const s = src + <usize>(y * srcStride);
    const d = dst + <usize>(y * dstStride);
    let i = 0;
    for (; i + 16 <= n; i += 16) {
      const p = s + (<usize>i << 2);
      const a = codesOf(f32x4.mul(v128.load(p), k), vmax);
      const b = codesOf(f32x4.mul(v128.load(p, 16), k), vmax);
      const c = codesOf(f32x4.mul(v128.load(p, 32), k), vmax);
      const e = codesOf(f32x4.mul(v128.load(p, 48), k), vmax);
      v128.store(d + <usize>i, narrowBytes(a, b, c, e));
    }
    for (; i < n; i++) store<u8>(d + <usize>i, code(load<f32>(s + (<usize>i << 2)) * <f32>255, 255));
  }
}

export const OP_ADD: i32 = 0;
export const OP_MUL: i32 = 1;

/** dst = f32(a + b) or f32(a · b), rows of n float32. */
export function binaryF32(op: i32, a: usize, aStride: i32, b: usize, bStride: i32, dst: usize, dstStride: i32, rows: i32, n: i32): void {
  for (let y = 0; y < rows; y++) {
    const pa = a + <usize>(y * aStride);
    const pb = b + <usize>(y * bStride);
    const d = dst + <usize>(y * dstStride);
    let i = 0;
    if (op == OP_ADD) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(d + o, f32x4.add(v128.load(pa + o), v128.load(pb + o)));
      }
      for (; i < n; i++) {
        const o = <usize>i << 2;
        store<f32>(d + o, load<f32>(pa + o) + load<f32>(pb + o));
      }
    } else {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(d + o, f32x4.mul(v128.load(pa + o), v128.load(pb + o)));
      }
      for (; i < n; i++) {
        const o = <usize>i << 2;
        store<f32>(d + o, load<f32>(pa + o) * load<f32>(pb + o));
      }
    }
  }
}

/** ADQ: dst = f32(src · k). */
export function scaleF32(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, n: i32, k: f32): void {
  const vk = f32x4.splat(k);
  for (let y = 0; y < rows; y++) {
    const s = src + <usize>(y * srcStride);
    const d = dst + <usize>(y * dstStride);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(d + o, f32x4.mul(v128.load(s + o), vk));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, load<f32>(s + o) * k);
    }
  }
}

/** dst = min(max(src, lo), hi). */
export function clampF32(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, n: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let y = 0; y < rows; y++) {
    const s = src + <usize>(y * srcStride);
    const d = dst + <usize>(y * dstStride);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(d + o, f32x4.min(f32x4.max(v128.load(s + o), vlo), vhi));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, min<f32>(max<f32>(load<f32>(s + o), lo), hi));
    }
  }
}

/**
 * Per channel ch: dst = f32(f32(src · scale[ch]) + shift[ch]); rows of w pixels × c channels. With
 * codes (≠ 0; heap addresses never are), the quantize layer reading dst is fused: its uint8 codes
 * of dst go there, rows of w · c bytes.
 */
export function affineF32(
  src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, w: i32, c: i32, scale: usize, shift: usize,
  codes: usize, step: f64, max: i32,
): void {
  const pixel = <usize>(c << 2);
  const quads = c & ~3;
  const vs = f64x2.splat(step);
  const inv = f32x4.splat(<f32>(1.0 / step));
  const top = f32x4.splat(<f32>(max + 1));
  const vmax = i32x4.splat(max);
  for (let y = 0; y < rows; y++) {
    let s = src + <usize>(y * srcStride);
    let d = dst + <usize>(y * dstStride);
    let q = codes + <usize>(y * w * c);
    for (let x = 0; x < w; x++) {
      let k = 0;
      for (; k < quads; k += 4) {
        const o = <usize>k << 2;
        const v = f32x4.add(f32x4.mul(v128.load(s + o), v128.load(scale + o)), v128.load(shift + o));
        v128.store(d + o, v);
        if (codes != 0) {
          const e = quantCodes(v, vs, inv, top, vmax);
          v128.store32_lane(q + <usize>k, narrowBytes(e, e, e, e), 0);
        }
      }
      for (; k < c; k++) {
        const o = <usize>k << 2;
        const v = load<f32>(s + o) * load<f32>(scale + o) + load<f32>(shift + o);
        store<f32>(d + o, v);
        if (codes != 0) store<u8>(q + <usize>k, code(<f32>(<f64>v / step), max));
      }
      s += pixel;
      d += pixel;
      q += <usize>c;
    }
  }
}

/** dst = f32(1 / (1 + exp(−src))) in f64, exp being expF64 below. */
export function sigmoidF32(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, n: i32): void {
  const one = f64x2.splat(1.0);
  const limit = f32x4.splat(708.0);
  const minusOne = f32x4.splat(-1.0);
  for (let y = 0; y < rows; y++) {
    const s = src + <usize>(y * srcStride);
    const d = dst + <usize>(y * dstStride);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(s + o);
      if (!i32x4.all_true(v128.and(f32x4.lt(f32x4.abs(v), limit), f32x4.ne(v, minusOne)))) {
        // Huge, infinite or NaN inputs, or exp(1): the scalar function's other branches.
        for (let j: usize = 0; j < 16; j += 4) store<f32>(d + o + j, <f32>(1.0 / (1.0 + expF64(-<f64>load<f32>(s + o + j)))));
        continue;
      }
      const a = f64x2.neg(f64x2.promote_low_f32x4(v));
      const b = f64x2.neg(f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15)));
      const lo = f32x4.demote_f64x2_zero(f64x2.div(one, f64x2.add(one, expF64x2(a))));
      const hi = f32x4.demote_f64x2_zero(f64x2.div(one, f64x2.add(one, expF64x2(b))));
      v128.store(d + o, i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, <f32>(1.0 / (1.0 + expF64(-<f64>load<f32>(s + o)))));
    }
  }
}

const LN2HI = 6.93147180369123816490e-01;
const LN2LO = 1.90821492927058770002e-10;
const INVLN2 = 1.44269504088896338700e+00;
const P1 = 1.66666666666666019037e-01;
const P2 = -2.77777777770155933842e-03;
const P3 = 6.61375632143793436117e-05;
const P4 = -1.65339022054652515390e-06;
const P5 = 4.13813679705723846039e-08;

/**
 * expF64 on two lanes with |x| < 708 and x ≠ 1, without branches: the same operations in the same
 * order for each case of the scalar function. Its k = ±1 case is the general reduction with t = ±1
 * (the same hi and lo, and the general k is ±1 there); its k = 0 case is the general formula with
 * t = 0 (then lo = +0, hi = x and 1 − ((lo − xc/(2 − c)) − hi) = 1 − (xc/(c − 2) − x) exactly,
 * as IEEE division and subtraction are sign-symmetric); tiny |x| is selected.
 */
@inline
function expF64x2(x: v128): v128 {
  const ax = f64x2.abs(x);
  // ±0.5 with x's sign bit, as halF[xsb].
  const half = v128.or(v128.and(x, i64x2.splat(0x8000000000000000)), f64x2.splat(0.5));
  let t = f64x2.trunc(f64x2.add(f64x2.mul(f64x2.splat(INVLN2), x), half));
  // |x| ≤ 0.5·ln2 by the high-word test of the scalar function: k = 0.
  t = v128.andnot(t, f64x2.lt(ax, f64x2.splat(reinterpret<f64>(0x3fd62e4300000000))));
  const hi = f64x2.sub(x, f64x2.mul(t, f64x2.splat(LN2HI)));
  const lo = f64x2.mul(t, f64x2.splat(LN2LO));
  const r = f64x2.sub(hi, lo);
  const tt = f64x2.mul(r, r);
  let p = f64x2.add(f64x2.splat(P4), f64x2.mul(tt, f64x2.splat(P5)));
  p = f64x2.add(f64x2.splat(P3), f64x2.mul(tt, p));
  p = f64x2.add(f64x2.splat(P2), f64x2.mul(tt, p));
  p = f64x2.add(f64x2.splat(P1), f64x2.mul(tt, p));
  const c = f64x2.sub(r, f64x2.mul(tt, p));
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(f64x2.splat(2.0), c));
  const y = f64x2.sub(f64x2.splat(1.0), f64x2.sub(f64x2.sub(lo, q), hi));
  // 2^k: 2^52 + 1023 + k holds 1023 + k in its low bits (k is an integer of [−1021, 1021]).
  const twopk = i64x2.shl(f64x2.add(t, f64x2.splat(4503599627371519.0)), 52);
  const e = f64x2.mul(y, twopk);
  return v128.bitselect(f64x2.add(f64x2.splat(1.0), x), e, f64x2.lt(ax, f64x2.splat(reinterpret<f64>(0x3e30000000000000))));
}

/**
 * exp(x) as fdlibm's e_exp.c in the form V8 compiles into Math.exp (src/base/ieee754.cc,
 * including its exp(1) = E special case): the same IEEE double operations in the same order,
 * so the same bits. src/exp.ts is the same function in TypeScript.
 */
export function expF64(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const xsb = <i32>(bits >> 63);
  const hx = <u32>(bits >> 32) & 0x7fffffff;
  if (hx >= 0x40862e42) {
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | <u32>bits) != 0) return x + x;
      return xsb == 0 ? x : 0.0;
    }
    if (x > 7.09782712893383973096e+02) return Infinity;
    if (x < -7.45133219101941108420e+02) return 0.0;
  }
  let hi = 0.0;
  let lo = 0.0;
  let k = 0;
  if (hx > 0x3fd62e42) {
    if (hx < 0x3ff0a2b2) {
      if (x == 1.0) return 2.718281828459045;
      hi = x - (xsb == 0 ? LN2HI : -LN2HI);
      lo = xsb == 0 ? LN2LO : -LN2LO;
      k = 1 - xsb - xsb;
    } else {
      k = <i32>(INVLN2 * x + (xsb == 0 ? 0.5 : -0.5));
      const t = <f64>k;
      hi = x - t * LN2HI;
      lo = t * LN2LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1.0 + x;
  }
  const t = x * x;
  const twopk = reinterpret<f64>(<u64>(<u32>(0x3ff00000 + ((k >= -1021 ? k : k + 1000) << 20))) << 32);
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * 8.988465674311579539e307;
    return y * twopk;
  }
  return y * twopk * 9.33263618503218878990e-302;
}

/** Copies `bytes` per pixel for rows of w pixels (concat: one input's channels into the output's). */
export function copyPixels(src: usize, srcStride: i32, srcPixel: i32, dst: usize, dstStride: i32, dstPixel: i32, rows: i32, w: i32, bytes: i32): void {
  const sp = <usize>srcPixel;
  const dp = <usize>dstPixel;
  const n = <usize>bytes;
  for (let y = 0; y < rows; y++) {
    let s = src + <usize>(y * srcStride);
    let d = dst + <usize>(y * dstStride);
    if (n >= 16) {
      // Whole vectors, the last one overlapping the one before: it writes only this pixel's bytes.
      const last = n - 16;
      for (let x = 0; x < w; x++) {
        let o: usize = 0;
        for (; o < last; o += 16) v128.store(d + o, v128.load(s + o));
        v128.store(d + last, v128.load(s + last));
        s += sp;
        d += dp;
      }
    } else if ((n & 3) == 0) {
      for (let x = 0; x < w; x++) {
        for (let o: usize = 0; o < n; o += 4) store<u32>(d + o, load<u32>(s + o));
        s += sp;
        d += dp;
      }
    } else {
      for (let x = 0; x < w; x++) {
        for (let o: usize = 0; o < n; o++) store<u8>(d + o, load<u8>(s + o));
        s += sp;
        d += dp;
      }
    }
  }
}

/** Output channel k is input channel k mod xc; elements of `elem` bytes (1 or 4). */
export function repeatChannels(src: usize, srcStride: i32, xc: i32, dst: usize, dstStride: i32, c: i32, rows: i32, w: i32, elem: i32): void {
  for (let y = 0; y < rows; y++) {
    let s = src + <usize>(y * srcStride);
    let d = dst + <usize>(y * dstStride);
    for (let x = 0; x < w; x++) {
      if (elem == 4) {
        for (let k = 0, j = 0; k < c; k++, j = j + 1 == xc ? 0 : j + 1) store<u32>(d + (<usize>k << 2), load<u32>(s + (<usize>j << 2)));
      } else {
        for (let k = 0, j = 0; k < c; k++, j = j + 1 == xc ? 0 : j + 1) store<u8>(d + <usize>k, load<u8>(s + <usize>j));
      }
      s += <usize>(xc * elem);
      d += <usize>(c * elem);
    }
  }
}

/**
 * Pixel shuffle (PyTorch order) of output rows y0.. and columns x0.. (global), rows × w pixels of
 * c channels: channel k at (y, x) is input channel k·f² + (y mod f)·f + (x mod f) at (y/f, x/f).
 * src is the input piece, whose first pixel is global (sy0, sx0), cin channels. With codes (float32
 * only; 0: none), the quantize layer that reads the result runs here too: codes of the same
 * pixels, c bytes each, rows codesStride bytes apart.
 */
export function pixelShuffle(
  src: usize, srcStride: i32, sy0: i32, sx0: i32, cin: i32,
  dst: usize, dstStride: i32, y0: i32, x0: i32, rows: i32, w: i32, c: i32, f: i32, elem: i32,
  codes: usize, codesStride: i32, step: f64, max: i32,
): void {
  const step2 = <usize>(f * f * elem);
  const pixel = <usize>(cin * elem);
  const vs = f64x2.splat(step);
  const inv = f32x4.splat(<f32>(1.0 / step));
  const top = f32x4.splat(<f32>(max + 1));
  const vmax = i32x4.splat(max);
  // RGB at x4: an input pixel's 4 output columns of one channel are 4 adjacent floats.
  const rgb4 = elem == 4 && c == 3 && f == 4;
  for (let y = 0; y < rows; y++) {
    const gy = y0 + y;
    const srow = src + <usize>((gy / f - sy0) * srcStride) + <usize>((gy % f) * f * elem);
    let d = dst + <usize>(y * dstStride);
    let q = codes + <usize>(y * codesStride);
    // (x0 + x) / f and mod f, counted instead of divided per pixel.
    let j = x0 % f;
    let s0 = srow + <usize>(x0 / f - sx0) * pixel;
    for (let x = 0; x < w; x++) {
      if (rgb4 && j == 0 && x + 4 <= w) {
        const v0 = v128.load(s0);
        const v1 = v128.load(s0 + step2);
        const v2 = v128.load(s0 + (step2 << 1));
        // [v0_0 v1_0 v2_0 v0_1], [v1_1 v2_1 v0_2 v1_2], [v2_2 v0_3 v1_3 v2_3]
        const a = i8x16.shuffle(v0, v1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        const o0 = i8x16.shuffle(a, v2, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11);
        const b = i8x16.shuffle(v1, v2, 4, 5, 6, 7, 20, 21, 22, 23, 8, 9, 10, 11, 24, 25, 26, 27);
        const o1 = i8x16.shuffle(b, v0, 0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 8, 9, 10, 11);
        const e = i8x16.shuffle(v0, v1, 12, 13, 14, 15, 28, 29, 30, 31, 12, 13, 14, 15, 28, 29, 30, 31);
        const o2 = i8x16.shuffle(i8x16.shuffle(b, e, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 0, 0, 0, 0), v2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 28, 29, 30, 31);
        v128.store(d, o0);
        v128.store(d, o1, 16);
        v128.store(d, o2, 32);
        if (codes != 0) {
          const bytes = narrowBytes(quantCodes(o0, vs, inv, top, vmax), quantCodes(o1, vs, inv, top, vmax), quantCodes(o2, vs, inv, top, vmax), vmax);
          v128.store64_lane(q, bytes, 0);
          v128.store32_lane(q + 8, bytes, 2);
          q += 12;
        }
        d += 48;
        s0 += pixel;
        x += 3;
        continue;
      }
      let s = s0 + <usize>(j * elem);
      if (elem == 4) {
        for (let k = 0; k < c; k++, s += step2) {
          const v = load<f32>(s);
          store<f32>(d + (<usize>k << 2), v);
          if (codes != 0) store<u8>(q + <usize>k, code(<f32>(<f64>v / step), max));
        }
      } else {
        for (let k = 0; k < c; k++, s += step2) store<u8>(d + <usize>k, load<u8>(s));
      }
      d += <usize>(c * elem);
      q += <usize>c;
      if (++j == f) {
        j = 0;
        s0 += pixel;
      }
    }
  }
}

/**
 * Max pool, no padding: rows × w outputs of c float32 channels; src is the input pixel under the
 * first output's window corner.
 */
export function maxPoolF32(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, w: i32, c: i32, kernel: i32, stride: i32): void {
  const pixel = <usize>(c << 2);
  const quads = c & ~3;
  for (let y = 0; y < rows; y++) {
    const srow = src + <usize>(y * stride * srcStride);
    let d = dst + <usize>(y * dstStride);
    for (let x = 0; x < w; x++) {
      const s0 = srow + <usize>(x * stride) * pixel;
      let k = 0;
      for (; k < quads; k += 4) {
        const o = <usize>k << 2;
        let m = v128.load(s0 + o);
        for (let dy = 0; dy < kernel; dy++) {
          let s = s0 + <usize>(dy * srcStride) + o;
          for (let dx = 0; dx < kernel; dx++, s += pixel) m = f32x4.max(m, v128.load(s));
        }
        v128.store(d + o, m);
      }
      for (; k < c; k++) {
        const o = <usize>k << 2;
        let m = load<f32>(s0 + o);
        for (let dy = 0; dy < kernel; dy++) {
          let s = s0 + <usize>(dy * srcStride) + o;
          for (let dx = 0; dx < kernel; dx++, s += pixel) m = max<f32>(m, load<f32>(s));
        }
        store<f32>(d + o, m);
      }
      d += pixel;
    }
  }
}

/**
 * Bilinear resize of rows × w outputs at global (y0, x0), c float32 channels. ty and tx hold one
 * 16-byte tap per output row / column (global index): i0, i1 (i32, global input index), w0, w1
 * (f32). src is the input piece, whose first pixel is global (sy0, sx0).
 *   top = f32(f32(a·w0x) + f32(b·w1x)), bottom likewise, out = f32(f32(top·w0y) + f32(bottom·w1y))
 */
export function bilinearF32(
  src: usize, srcStride: i32, sy0: i32, sx0: i32, c: i32,
  dst: usize, dstStride: i32, y0: i32, x0: i32, rows: i32, w: i32, ty: usize, tx: usize,
): void {
  const pixel = <usize>(c << 2);
  const quads = c & ~3;
  for (let y = 0; y < rows; y++) {
    const t = ty + (<usize>(y0 + y) << 4);
    const r0 = src + <usize>((load<i32>(t) - sy0) * srcStride);
    const r1 = src + <usize>((load<i32>(t, 4) - sy0) * srcStride);
    const wy0 = load<f32>(t, 8);
    const wy1 = load<f32>(t, 12);
    const vy0 = f32x4.splat(wy0);
    const vy1 = f32x4.splat(wy1);
    let d = dst + <usize>(y * dstStride);
    for (let x = 0; x < w; x++) {
      const u = tx + (<usize>(x0 + x) << 4);
      const c0 = <usize>(load<i32>(u) - sx0) * pixel;
      const c1 = <usize>(load<i32>(u, 4) - sx0) * pixel;
      const wx0 = load<f32>(u, 8);
      const wx1 = load<f32>(u, 12);
      const vx0 = f32x4.splat(wx0);
      const vx1 = f32x4.splat(wx1);
      const a = r0 + c0;
      const b = r0 + c1;
      const e = r1 + c0;
      const f = r1 + c1;
      let k = 0;
      for (; k < quads; k += 4) {
        const o = <usize>k << 2;
        const top = f32x4.add(f32x4.mul(v128.load(a + o), vx0), f32x4.mul(v128.load(b + o), vx1));
        const bottom = f32x4.add(f32x4.mul(v128.load(e + o), vx0), f32x4.mul(v128.load(f + o), vx1));
        v128.store(d + o, f32x4.add(f32x4.mul(top, vy0), f32x4.mul(bottom, vy1)));
      }
      for (; k < c; k++) {
        const o = <usize>k << 2;
        const top = load<f32>(a + o) * wx0 + load<f32>(b + o) * wx1;
        const bottom = load<f32>(e + o) * wx0 + load<f32>(f + o) * wx1;
        store<f32>(d + o, top * wy0 + bottom * wy1);
      }
      d += pixel;
    }
  }
}

/**
 * The ADQ deviation's sums, as graph.ts adqFactor takes them (f64, memory order), continued from
 * `sum` over n more values (float32, or uint8 codes when elem is 1) times step: with mean NaN,
 * sum + Σ v·step; otherwise sum + Σ (v·step − mean)².
 */
export function adqSum(src: usize, n: i32, elem: i32, step: f64, mean: f64, sum: f64): f64 {
  const first = isNaN(mean);
  if (elem == 4) {
    if (first) for (let i = 0; i < n; i++) sum += <f64>load<f32>(src + (<usize>i << 2)) * step;
    else {
      for (let i = 0; i < n; i++) {
        const d = <f64>load<f32>(src + (<usize>i << 2)) * step - mean;
        sum += d * d;
      }
    }
  } else {
    if (first) for (let i = 0; i < n; i++) sum += <f64>load<u8>(src + <usize>i) * step;
    else {
      for (let i = 0; i < n; i++) {
        const d = <f64>load<u8>(src + <usize>i) * step - mean;
        sum += d * d;
      }
    }
  }
  return sum;
}
