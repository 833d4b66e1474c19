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

/** Four i32x4 of codes in 0..255 as 16 bytes. */
@inline
export function narrowBytes(a: v128, b: v128, c: v128, d: v128): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
}
