import { tf } from '@quantnas/core-ops';
import { HWGQ_STEPS } from './bits.js';
import { quantizedBits } from './lsq.js';
import { customOp } from './custom-grad.js';
import { insideMask } from './ste.js';

/** The largest unsigned activation code at `bits`: 2^b − 1. */
export function activationLevels(bits: number): number {
  return 2 ** quantizedBits(bits, 'activation quantization') - 1;
}

/** HWGQ's published step for `bits` as a float32 value, or undefined (5, 6, 7: none published). */
export function hwgqFixedStep(bits: number): number | undefined {
  const step = HWGQ_STEPS[quantizedBits(bits, 'HWGQ')];
  return step === undefined ? undefined : Math.fround(step);
}

/** The step (float32) of the uniform b-bit grid on [0, 1]: an image's own quantization at 8 bits. */
export function imageStep(bits: number): number {
  return Math.fround(1 / (2 ** quantizedBits(bits, 'image') - 1));
}

/**
 * HWGQ, unsigned: x̂ = round(clamp(x, 0, c) / s) · s with c = s·(2^b − 1), gradient 1 for
 * 0 < x < c and 0 elsewhere (straight-through rounding). A number `step` is a constant (float32);
 * a scalar tensor is a learned step (LSQ on activations) whose gradient is LSQ's for the unsigned
 * range [0, 2^b − 1]: g·(round(x/s) − x/s) inside, 2^b − 1 at or above the clip, 0 at or below 0.
 * The clip is computed as float32(s·(2^b − 1)) in both cases, which is what `activationCodes`
 * reproduces for export.
 */
export function hwgqQuantize<T extends tf.Tensor>(x: T, bits: number, step: number | tf.Tensor, gradScale = 1): T {
  const levels = activationLevels(bits);
  if (typeof step === 'number') {
    if (!(step > 0)) throw new Error(`HWGQ step must be positive, got ${step}`);
    const s = Math.fround(step);
    const clip = Math.fround(s * levels);
    const f = customOp(([t], save) => {
      save([t]);
      return {
        value: tf.mul(tf.round(tf.div(tf.clipByValue(t, 0, clip), s)), s),
        gradFunc: (dy, [ts]) => tf.mul(dy, insideMask(ts, 0, clip)),
      };
    });
    return f(x) as T;
  }
  const f = customOp(([t, s], save) => {
    save([t, s]);
    return {
      value: tf.mul(tf.round(tf.div(tf.minimum(tf.relu(t), tf.mul(s, levels)), s)), s),
      gradFunc: (dy, [ts, ss]) => {
        const clip = tf.mul(ss, levels);
        const inside = insideMask(ts, 0, clip);
        const high = tf.sub(1, tf.step(tf.sub(clip, ts)));
        const v = tf.div(ts, ss);
        const perElement = tf.add(tf.mul(inside, tf.sub(tf.round(v), v)), tf.mul(high, levels));
        const ds = tf.reshape(tf.mul(tf.sum(tf.mul(dy, perElement)), gradScale), ss.shape);
        return [tf.mul(dy, inside), ds];
      },
    };
  });
  return f(x, step) as T;
}

/** LSQ's initial activation step 2·mean(x⁺) / sqrt(2^b − 1), from one batch. */
export function activationInitialStep(x: tf.Tensor, bits: number): tf.Scalar {
  const levels = activationLevels(bits);
  return tf.tidy(() => tf.mul(tf.mean(tf.relu(x)), 2 / Math.sqrt(levels)) as tf.Scalar);
}
