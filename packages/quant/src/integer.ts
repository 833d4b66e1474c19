import { activationLevels } from './hwgq.js';
import { lsqRange, quantizedBits } from './lsq.js';
import type { WeightScheme } from './quant-spec.js';

// Export-time conversion of fake-quant layers to integers. Everything is computed in float32
// exactly as the fake-quant forward computes it (division, clip, round half to even, multiply),
// so that the float weight the network trained with is q·s_c, bit for bit:
//   ŵ = float32(q · s_c)            q = round(clip(float32(w / s_c), −qn, qp))
//   x̂ = float32(u · a)              u = round(float32(clamp(x, 0, float32(a·(2^b − 1))) / a))
// and a conv over x̂ and ŵ equals (Σ u·q) · s_c · a up to float32 rounding of the products and
// of the summation order.

/** Round half to even, as tf.round does on every backend. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A conv weight as integers: q in [−qn, qp], layout [kh, kw, in/groups, out] like the float one. */
export interface IntegerWeights {
  readonly bits: number;
  readonly scheme: WeightScheme;
  readonly shape: readonly [number, number, number, number];
  readonly values: Int8Array;
  /** Per-output-channel scale s_c (the LSQ step, float32). */
  readonly scales: Float32Array;
}

/** Integer weights from float weights and LSQ steps, exactly as the fake-quant forward rounds them. */
export function integerWeights(
  weights: ArrayLike<number>,
  shape: readonly number[],
  steps: ArrayLike<number>,
  bits: number,
  scheme: WeightScheme = 'lsq',
): IntegerWeights {
  const b = quantizedBits(bits, 'integer weights');
  if (shape.length !== 4) throw new Error(`integer weights need a [kh, kw, in, out] shape, got [${shape.join(', ')}]`);
  const size = shape.reduce((a, d) => a * d, 1);
  if (weights.length !== size) throw new Error(`integer weights: shape [${shape.join(', ')}] needs ${size} values, got ${weights.length}`);
  const out = shape[3]!;
  if (steps.length !== out) throw new Error(`integer weights: ${out} output channels need ${out} steps, got ${steps.length}`);
  const scales = Float32Array.from(steps);
  scales.forEach((s, c) => {
    if (!(s > 0)) throw new Error(`integer weights: step of channel ${c} is ${s}, not positive`);
  });
  const { qn, qp } = lsqRange(b, scheme);
  const values = new Int8Array(size);
  for (let i = 0; i < size; i++) {
    const v = Math.fround(weights[i]! / scales[i % out]!);
    values[i] = roundHalfEven(Math.min(Math.max(v, -qn), qp));
  }
  return { bits: b, scheme, shape: [shape[0]!, shape[1]!, shape[2]!, out], values, scales };
}

/** The float32 weights the fake-quant forward used: float32(q · s_c). */
export function dequantizeWeights(w: IntegerWeights): Float32Array {
  const out = w.shape[3];
  const result = new Float32Array(w.values.length);
  for (let i = 0; i < result.length; i++) result[i] = w.values[i]! * w.scales[i % out]!;
  return result;
}

/** Unsigned activation codes u in [0, 2^b − 1] for a step a (HWGQ's or a learned one). */
export function activationCodes(x: ArrayLike<number>, bits: number, step: number): Uint8Array {
  const levels = activationLevels(bits);
  const a = Math.fround(step);
  if (!(a > 0)) throw new Error(`activation step must be positive, got ${step}`);
  const clip = Math.fround(a * levels);
  const codes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const clamped = Math.min(Math.max(Math.fround(x[i]!), 0), clip);
    codes[i] = roundHalfEven(Math.fround(clamped / a));
  }
  return codes;
}

/** The float32 activations the fake-quant forward produced: float32(u · a). */
export function dequantizeActivations(codes: ArrayLike<number>, step: number): Float32Array {
  const a = Math.fround(step);
  return Float32Array.from(codes, (u) => u * a);
}
