// The activation quantizer's arithmetic, shared by the quantize layer and the convs that quantize
// their float32 output for a following conv: clamp(roundHalfEven(f32(x / step)), 0, max), the
// division in f64 as JS's Math.fround(x / step) does it (the step need not be a float32).

/** clamp(roundHalfEven(v), 0, max) per lane; NaN → 0 (trunc_sat), huge values saturate. */
@inline
export function codes(v: v128, vmax: v128): v128 {
  return i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(v)), i32x4.splat(0)), vmax);
}

@inline
export function code(v: f32, max: i32): i32 {
  const r = nearest<f32>(v);
  return r > 0 ? (r >= <f32>max ? max : <i32>r) : 0;
}

/** f32(x / step) per lane, the division in f64 (as JS's Math.fround(x / step)). */
@inline
export function divideF64(x: v128, step: v128): v128 {
  const lo = f32x4.demote_f64x2_zero(f64x2.div(f64x2.promote_low_f32x4(x), step));
  const high = i8x16.shuffle(x, x, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  const hi = f32x4.demote_f64x2_zero(f64x2.div(f64x2.promote_low_f32x4(high), step));
  return i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

/**
 * The quantizer's codes of 4 float32 values, as codes(divideF64(x, step), vmax) gives them, without
 * its f64 divisions where they cannot matter. q = f32(x · f32(1/step)) is within 2^-22 of x/step
 * (relative), and the f32 of the f64 quotient within 2^-24 of it: unless q lies within 2^-19·|q| of
 * a half-integer, both round to the same integer. A vector with such a lane (ties included) takes
 * the divisions. q is first clamped to [−1, max + 1], where the codes saturate either way.
 *   vs: f64x2 step; inv: f32x4 f32(1/step); top: f32x4 max + 1; vmax: i32x4 max
 */
@inline
export function quantCodes(x: v128, vs: v128, inv: v128, top: v128, vmax: v128): v128 {
  // pmax(−1, NaN) is −1: NaN codes 0, as in codes.
  const q = f32x4.pmin(f32x4.pmax(f32x4.splat(-1.0), f32x4.mul(x, inv)), top);
  // 1.5 · 2^23 + q rounds q half to even; the integer is then the low mantissa bits.
  const magic = f32x4.splat(12582912.0);
  const m = f32x4.add(q, magic);
  const off = f32x4.abs(f32x4.sub(f32x4.abs(f32x4.sub(q, f32x4.sub(m, magic))), f32x4.splat(0.5)));
  if (v128.any_true(f32x4.le(off, f32x4.mul(f32x4.abs(q), f32x4.splat(1.9073486328125e-6))))) {
    return codes(divideF64(x, vs), vmax);
  }
  return i32x4.min_s(i32x4.max_s(i32x4.sub(m, magic), i32x4.splat(0)), vmax);
}

/** Four i32x4 of codes in 0..255 as 16 bytes. */
@inline
export function narrowBytes(a: v128, b: v128, c: v128, d: v128): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
}
