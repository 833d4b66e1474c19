// SIMD loops of the fused quantization kernels, run on the tfjs wasm backend's own memory (the
// module imports it): every pointer is a tensor's offset in that heap. The module has no data of
// its own and allocates nothing, so it never writes outside the tensors it is given.

const GOLDEN: i32 = 0x9e3779b9;
const M1: i32 = 0x85ebca6b;
const M2: i32 = 0xc2b2ae35;
const INV_2_25: f32 = 1.0 / 33554432.0;

/** U(−1/2, 1/2) for indices i..i+3 under `key`: the same bits as the scalar hash in unit-noise.ts. */
@inline
function uniform4(key: v128, idx: v128): v128 {
  let h = i32x4.add(key, i32x4.mul(idx, i32x4.splat(GOLDEN)));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(M1));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(M2));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  const centred = i32x4.sub(i32x4.add(i32x4.shl(i32x4.shr_u(h, 8), 1), i32x4.splat(1)), i32x4.splat(0x1000000));
  return f32x4.mul(f32x4.convert_i32x4_s(centred), f32x4.splat(INV_2_25));
}

@inline
function uniform1(key: i32, i: i32): f32 {
  let h = key + i * GOLDEN;
  h ^= <i32>(<u32>h >> 16);
  h *= M1;
  h ^= <i32>(<u32>h >> 13);
  h *= M2;
  h ^= <i32>(<u32>h >> 16);
  return <f32>((<i32>(<u32>h >> 8) << 1) + 1 - 0x1000000) * INV_2_25;
}

@inline
function rectify(v: v128, relu: bool): v128 {
  return relu ? f32x4.max(v, f32x4.splat(0)) : v;
}

/** max u − min u of n floats at x (u = ReLU(x) when relu), in float32. */
export function range(x: usize, n: i32, relu: bool): f32 {
  if (n == 0) return 0;
  let lo = f32x4.splat(Infinity);
  let hi = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    lo = f32x4.min(lo, v);
    hi = f32x4.max(hi, v);
  }
  let l = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  let h = max(max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    l = min(l, v);
    h = max(h, v);
  }
  if (relu) {
    l = max(l, 0);
    h = max(h, 0);
  }
  return h - l;
}

/** out = scale·u + c0·ξ(k0) + c1·ξ(k1) (count noisy bit-widths: 0, 1 or 2). */
export function noiseMix(x: usize, out: usize, n: i32, relu: bool, scale: f32, count: i32, k0: i32, c0: f32, k1: i32, c1: f32): void {
  const s = f32x4.splat(scale);
  const key0 = i32x4.splat(k0);
  const key1 = i32x4.splat(k1);
  const w0 = f32x4.splat(c0);
  const w1 = f32x4.splat(c1);
  let idx = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    let v = f32x4.mul(s, rectify(v128.load(x + at), relu));
    if (count > 0) v = f32x4.add(v, f32x4.mul(w0, uniform4(key0, idx)));
    if (count > 1) v = f32x4.add(v, f32x4.mul(w1, uniform4(key1, idx)));
    v128.store(out + at, v);
    idx = i32x4.add(idx, four);
  }
  for (; i < n; i++) {
    let u = load<f32>(x + (<usize>i << 2));
    if (relu) u = max(u, 0);
    let v = scale * u;
    if (count > 0) v += c0 * uniform1(k0, i);
    if (count > 1) v += c1 * uniform1(k1, i);
    store<f32>(out + (<usize>i << 2), v);
  }
}

/** out = g·dy, zero where x ≤ 0 when relu. */
export function scaleMasked(dy: usize, x: usize, out: usize, n: i32, g: f32, relu: bool): void {
  const gs = f32x4.splat(g);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    let v = f32x4.mul(gs, v128.load(dy + at));
    if (relu) v = v128.and(v, f32x4.gt(v128.load(x + at), zero));
    v128.store(out + at, v);
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(out + at, relu && load<f32>(x + at) <= 0 ? 0 : g * load<f32>(dy + at));
  }
}

// Reductions accumulate in float64 pairs: sums over whole activations stay accurate.
let sumD: f64 = 0;
let sumN0: f64 = 0;
let sumN1: f64 = 0;

@inline
function acc2(a: v128, v: v128): v128 {
  return f64x2.add(f64x2.add(a, f64x2.promote_low_f32x4(v)), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
}

@inline
function total(a: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

/** D = Σ dy·u and N_b = Σ dy·ξ_b (read back with sumDot, sumNoise0, sumNoise1). */
export function noiseMixSums(dy: usize, x: usize, n: i32, relu: bool, count: i32, k0: i32, k1: i32): void {
  const key0 = i32x4.splat(k0);
  const key1 = i32x4.splat(k1);
  let d = f64x2.splat(0);
  let n0 = f64x2.splat(0);
  let n1 = f64x2.splat(0);
  let idx = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const g = v128.load(dy + at);
    d = acc2(d, f32x4.mul(g, rectify(v128.load(x + at), relu)));
    if (count > 0) n0 = acc2(n0, f32x4.mul(g, uniform4(key0, idx)));
    if (count > 1) n1 = acc2(n1, f32x4.mul(g, uniform4(key1, idx)));
    idx = i32x4.add(idx, four);
  }
  let sd = total(d);
  let s0 = total(n0);
  let s1 = total(n1);
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const g = <f64>load<f32>(dy + at);
    let u = load<f32>(x + at);
    if (relu) u = max(u, 0);
    sd += g * <f64>u;
    if (count > 0) s0 += g * <f64>uniform1(k0, i);
    if (count > 1) s1 += g * <f64>uniform1(k1, i);
  }
  sumD = sd;
  sumN0 = s0;
  sumN1 = s1;
}

export function sumDot(): f64 {
  return sumD;
}
export function sumNoise0(): f64 {
  return sumN0;
}
export function sumNoise1(): f64 {
  return sumN1;
}

/** out = w·y (first) or out += w·y. */
export function axpy(y: usize, out: usize, n: i32, w: f32, first: bool): void {
  const ws = f32x4.splat(w);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const v = f32x4.mul(ws, v128.load(y + at));
    v128.store(out + at, first ? v : f32x4.add(v128.load(out + at), v));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const v = w * load<f32>(y + at);
    store<f32>(out + at, first ? v : load<f32>(out + at) + v);
  }
}

/** Σ a·b in float64. */
export function dot(a: usize, b: usize, n: i32): f64 {
  let s = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    s = acc2(s, f32x4.mul(v128.load(a + at), v128.load(b + at)));
  }
  let r = total(s);
  for (; i < n; i++) r += <f64>load<f32>(a + (<usize>i << 2)) * <f64>load<f32>(b + (<usize>i << 2));
  return r;
}

/** HWGQ: out = round(clamp(x, 0, clip) / step)·step, half to even, in float32. */
export function hwgq(x: usize, out: usize, n: i32, step: f32, clip: f32): void {
  const s = f32x4.splat(step);
  const c = f32x4.splat(clip);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const v = f32x4.min(f32x4.max(v128.load(x + at), zero), c);
    v128.store(out + at, f32x4.mul(f32x4.nearest(f32x4.div(v, s)), s));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const v = min(max(load<f32>(x + at), 0), clip);
    store<f32>(out + at, nearest<f32>(v / step) * step);
  }
}

/** dy where 0 < x < clip, else 0. */
export function passInside(dy: usize, x: usize, out: usize, n: i32, clip: f32): void {
  const c = f32x4.splat(clip);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const v = v128.load(x + at);
    v128.store(out + at, v128.and(v128.load(dy + at), v128.and(f32x4.gt(v, zero), f32x4.lt(v, c))));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const v = load<f32>(x + at);
    store<f32>(out + at, v > 0 && v < clip ? load<f32>(dy + at) : 0);
  }
}
