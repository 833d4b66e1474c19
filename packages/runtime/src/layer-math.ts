import type { ConvParams } from './conv-spec.js';
import type { GraphLayer, GraphTensor } from './graph-types.js';

/** The arithmetic the engines share: conv parameters, bilinear taps, ADQ's σ, quantization codes. */

/** The conv of a layer as the kernels take it, for an input of height × width. */
export function convParams(l: GraphLayer, input: GraphTensor, height: number, width: number): ConvParams {
  const layer = l.layer;
  if (layer.op !== 'conv' || !l.conv) throw new Error('not a conv layer');
  const c = l.conv;
  return {
    height,
    width,
    inChannels: input.info.channels,
    outChannels: c.multipliers.length,
    kernel: layer.kernel,
    stride: layer.stride,
    padding: layer.padding,
    groups: layer.groups,
    weights: c.weights,
    inputBits: c.inputBits,
    output: { kind: c.kind, multipliers: c.multipliers, offsets: c.offsets, min: c.min, max: c.max },
  };
}

/**
 * Bilinear taps along one axis (align_corners false, as PyTorch): source s = (o + 0.5)·in/out − 0.5
 * in double, clamped at 0; i0 = ⌊s⌋, i1 = min(i0 + 1, in − 1), weights w1 = f32(s − i0),
 * w0 = f32(1 − w1).
 */
export function bilinearTaps(inSize: number, outSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const ratio = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.max((o + 0.5) * ratio - 0.5, 0);
    const a = Math.min(Math.floor(s), inSize - 1);
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    w1[o] = s - a;
    w0[o] = 1 - w1[o]!;
  }
  return { i0, i1, w0, w1 };
}

/**
 * The ADQ deviation of a whole tensor (values: float32 values or uint8 codes times step), in
 * double, in memory order: the mean first, then the mean squared deviation (two passes, no
 * cancellation); φ = f32(slope · σ + offset).
 */
export function adqFactor(values: Float32Array | Uint8Array, step: number, deviation: 'population' | 'sample', slope: number, offset: number): number {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]! * step;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! * step - mean;
    squares += d * d;
  }
  return adqPhi(squares, n, deviation, slope, offset);
}

/** φ from the sum of squared deviations of n values. */
export function adqPhi(squares: number, n: number, deviation: 'population' | 'sample', slope: number, offset: number): number {
  const divisor = deviation === 'sample' ? n - 1 : n;
  const sigma = divisor > 0 ? Math.sqrt(squares / divisor) : 0;
  return Math.fround(slope * sigma + offset);
}

/** The uint8 code of a float value for a quantize layer (see QuantizeLayer). */
export function quantizeCode(x: number, step: number, maxCode: number): number {
  const v = Math.fround(x / step);
  // Round half to even; NaN (never produced by finite layers) maps to 0.
  if (!(v > 0)) return 0;
  if (v >= maxCode) return maxCode;
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** The output pixel: clamp(roundHalfEven(f32(x · 255)), 0, 255), NaN → 0. */
export function outputByte(x: number): number {
  return quantizeCode(Math.fround(x * 255), 1, 255);
}

export const f32 = Math.fround;
