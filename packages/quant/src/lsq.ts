import { tf } from '@quantnas/core-ops';
import { parseBitWidth } from './bits.js';
import type { WeightScheme } from './quant-spec.js';
import { customOp } from './custom-grad.js';
import { insideMask } from './ste.js';

/** The integer range of LSQ weights: codes q with −qn ≤ q ≤ qp. */
export interface LsqRange {
  readonly qn: number;
  readonly qp: number;
}

/**
 * `lsq`: [−2^(b−1), 2^(b−1) − 1]; `lsq-symmetric`: [−(2^(b−1) − 1), 2^(b−1) − 1], which integer
 * kernels prefer (negation never overflows). Bits must be 2..8.
 */
export function lsqRange(bits: number, scheme: WeightScheme = 'lsq'): LsqRange {
  const b = quantizedBits(bits, 'LSQ');
  const qp = 2 ** (b - 1) - 1;
  return { qn: scheme === 'lsq-symmetric' ? qp : qp + 1, qp };
}

/** Bits 2..8, or an error naming the value (32 is "not quantized" and has no integer range). */
export function quantizedBits(bits: number, what: string): number {
  const b = parseBitWidth(bits);
  if (b === 32) throw new Error(`${what} needs 2..8 bits, got 32 (full precision has no integer range)`);
  return b;
}

/**
 * LSQ's step-gradient scale g = 1/sqrt(qp · numel), numel being the element count of the whole
 * quantized tensor (docs/method.md §4.1), not of one output channel.
 */
export function lsqGradScale(qp: number, numel: number): number {
  return 1 / Math.sqrt(qp * numel);
}

/** LSQ's initial per-output-channel step 2·mean|W_c| / sqrt(qp), channels on the last axis. */
export function lsqInitialStep(w: tf.Tensor, qp: number): tf.Tensor1D {
  return tf.tidy(() => {
    const axes = w.shape.slice(0, -1).map((_, i) => i);
    return tf.mul(tf.mean(tf.abs(w), axes), 2 / Math.sqrt(qp)) as tf.Tensor1D;
  });
}

/**
 * LSQ fake quantization with a per-channel step on the last axis: ŵ = round(clip(w/s, −qn, qp))·s.
 * The gradients are LSQ's exactly, written out rather than left to autodiff of the composite
 * (which would give (dy·s)/s, not dy):
 *   dŵ/dw = 1 if −qn < w/s < qp, else 0;
 *   dŵ/ds = g · (round(w/s) − w/s) inside, −qn at or below the low clip, qp at or above the high one.
 */
export function lsqQuantize<T extends tf.Tensor>(w: T, step: tf.Tensor1D, range: LsqRange, gradScale: number): T {
  const { qn, qp } = range;
  const f = customOp(([x, s], save) => {
    save([x, s]);
    return {
      value: tf.mul(tf.round(tf.clipByValue(tf.div(x, s), -qn, qp)), s),
      gradFunc: (dy, [xs, ss]) => {
        const v = tf.div(xs, ss);
        const inside = insideMask(v, -qn, qp);
        const high = tf.sub(1, tf.step(tf.sub(qp, v)));
        const low = tf.sub(1, tf.step(tf.add(v, qn)));
        const perElement = tf.addN([tf.mul(inside, tf.sub(tf.round(v), v)), tf.mul(high, qp), tf.mul(low, -qn)]);
        const axes = xs.shape.slice(0, -1).map((_, i) => i);
        const ds = tf.mul(tf.sum(tf.mul(dy, perElement), axes), gradScale);
        return [tf.mul(dy, inside), ds];
      },
    };
  });
  return f(w, step) as T;
}
