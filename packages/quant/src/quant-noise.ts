import { tf } from '@quantnas/core-ops';
import type { BitWidth } from './bits.js';
import { customOp } from './custom-grad.js';
import { stopGradient } from './ste.js';
import { fillUnitNoise, type NoiseKind } from './fused/unit-noise.js';

/** ξ's distribution: U(−1/2, 1/2) (the paper's, DiffQ-style) or N(0, 1/4) (the reference code's). */
export type { NoiseKind } from './fused/unit-noise.js';
/**
 * `through`: the noise is a constant added to the tensor, gradients flow through T + noise;
 * `detached`: the noisy copies are constants, gradients reach T only through the f·T term.
 */
export type NoiseGradient = 'through' | 'detached';

/** max T − min T over the whole tensor, with no gradient (Δ is a constant of the noise). */
function frozenRange(t: tf.Tensor): tf.Scalar {
  const f = customOp(([x]) => ({
    value: tf.sub(tf.max(x), tf.min(x)),
    gradFunc: () => tf.zeros(x.shape),
  }));
  return f(t) as tf.Scalar;
}

/** Δ_b(T) = (max T − min T) / (2^b − 1) over the whole tensor; 0 at 32 bits. No gradient. */
export function quantNoiseStep(t: tf.Tensor, bits: BitWidth): tf.Scalar {
  if (bits === 32) return tf.scalar(0);
  return tf.tidy(() => tf.div(frozenRange(t), 2 ** bits - 1));
}

/**
 * Unit noise ξ of the given kind; the same seed gives the same values. Seed must be non-zero.
 * Counter-based (a hash of seed and index), so the fused kernels regenerate exactly these values.
 */
export function unitNoise(shape: readonly number[], kind: NoiseKind, seed: number): tf.Tensor {
  if (seed === 0) throw new Error('unit noise needs a non-zero seed');
  return tf.tensor(fillUnitNoise(new Float32Array(tf.util.sizeFromShape([...shape])), seed, kind), [...shape]);
}

/** The in-block weights a_b = p_b / (Σ p + f) and f = 1/(|B| + 1) of docs/method.md §4.2. */
export function quantNoiseWeights(p: tf.Tensor1D): { readonly a: tf.Tensor1D; readonly f: number } {
  const f = 1 / (p.shape[0] + 1);
  return { a: tf.tidy(() => tf.div(p, tf.add(tf.sum(p), f))), f };
}

export interface QuantNoiseMixInput<T extends tf.Tensor> {
  /** W, or x⁺ = ReLU(x) for activations (then Δ spans the whole batch). */
  readonly tensor: T;
  /** In-block probabilities p_b, one per entry of `bits`. */
  readonly probabilities: tf.Tensor1D;
  readonly bits: readonly BitWidth[];
  /** ξ_b per entry of `bits`, shaped like `tensor`; ignored (may be null) at 32 bits. */
  readonly unitNoise: readonly (tf.Tensor | null)[];
  readonly gradient: NoiseGradient;
}

/**
 * T̂ = f·T + Σ_b a_b·QN_b(T), QN_b(T) = T + Δ_b(T)·ξ_b (docs/method.md §4.2). Computed as
 * f·T + (Σ a_b)·T' + (max T − min T)·Σ_b a_b·ξ_b/(2^b − 1) with T' = T (`through`) or a constant
 * copy of T (`detached`); the gradient to each a_b is QN_b(T) either way.
 */
export function quantNoiseMix<T extends tf.Tensor>(input: QuantNoiseMixInput<T>): T {
  const { tensor, probabilities, bits, unitNoise: xi, gradient } = input;
  checkProbabilities(probabilities, bits);
  if (xi.length !== bits.length) throw new Error(`quantization noise: ${bits.length} bit-widths need ${bits.length} noise tensors, got ${xi.length}`);
  return tf.tidy(() => {
    const { a, f } = quantNoiseWeights(probabilities);
    const base = gradient === 'through' ? tensor : stopGradient(tensor);
    // tfjs' unstack of one element has no working gradient (stack receives a lone tensor).
    const aScalars = bits.length === 1 ? [tf.reshape(a, [])] : tf.unstack(a);
    const terms: tf.Tensor[] = [tf.mul(tensor, f), tf.mul(base, tf.sum(a))];
    const noisy: tf.Tensor[] = [];
    bits.forEach((b, i) => {
      if (b === 32) return;
      const n = xi[i];
      if (!n) throw new Error(`quantization noise: no noise given for ${b} bits`);
      if (!tf.util.arraysEqual(n.shape, tensor.shape)) {
        throw new Error(`quantization noise: noise shape [${n.shape.join(', ')}] differs from the tensor's [${tensor.shape.join(', ')}]`);
      }
      noisy.push(tf.mul(n, tf.div(aScalars[i]!, 2 ** b - 1)));
    });
    if (noisy.length > 0) terms.push(tf.mul(tf.addN(noisy), frozenRange(tensor)));
    return tf.addN(terms) as T;
  });
}

/** The mix's expectation over ξ, (f + Σ a_b)·T: what QN quantizers compute when not training. */
export function quantNoiseExpectation<T extends tf.Tensor>(tensor: T, probabilities: tf.Tensor1D, bits: readonly BitWidth[]): T {
  checkProbabilities(probabilities, bits);
  return tf.tidy(() => {
    const { a, f } = quantNoiseWeights(probabilities);
    return tf.mul(tensor, tf.add(tf.sum(a), f)) as T;
  });
}

/**
 * The mix with real rounding in place of noise: f·T + Σ_b a_b·Q_b(T), Q_b(T) = min T + Δ_b·round((T − min T)/Δ_b)
 * on the same grid whose step the noise simulates. The expectation ignores the bit-widths (it is the
 * same for every b); this shows what b costs the trained weights, so a path's score can tell 4 from 8
 * bits. Inference only: no gradient is defined.
 */
export function quantNoiseRounded<T extends tf.Tensor>(tensor: T, probabilities: tf.Tensor1D, bits: readonly BitWidth[]): T {
  checkProbabilities(probabilities, bits);
  return tf.tidy(() => {
    const { a, f } = quantNoiseWeights(probabilities);
    const weights = bits.length === 1 ? [tf.reshape(a, [])] : tf.unstack(a);
    const low = tf.min(tensor);
    const range = tf.sub(tf.max(tensor), low);
    const terms: tf.Tensor[] = [tf.mul(tensor, f)];
    bits.forEach((b, i) => {
      if (b === 32) {
        terms.push(tf.mul(tensor, weights[i]!));
        return;
      }
      // A constant tensor has range 0: its grid is the one value, rounding leaves it as it is.
      const step = tf.maximum(tf.div(range, 2 ** b - 1), 1e-30);
      const rounded = tf.add(low, tf.mul(tf.round(tf.div(tf.sub(tensor, low), step)), step));
      terms.push(tf.mul(rounded, weights[i]!));
    });
    return tf.addN(terms) as T;
  });
}

export function checkProbabilities(p: tf.Tensor, bits: readonly unknown[]): void {
  if (p.rank !== 1 || p.shape[0] !== bits.length) {
    throw new Error(`expected ${bits.length} probabilities (one per bit-width), got a tensor of shape [${p.shape.join(', ')}]`);
  }
}
