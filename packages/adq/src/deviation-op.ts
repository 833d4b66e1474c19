import { tf } from '@quantnas/core-ops';

// Below this σ the gradient's denominator is clamped. A sample with σ = 0 is constant, so its
// centred values, the numerator, are exactly 0 and the gradient is 0 rather than 0/0 = NaN.
const SIGMA_FLOOR = 1e-12;

/**
 * σ(x) of ADQ as a tensor op: the standard deviation of each sample of an NHWC batch over all of
 * its (H, W, C) values, shape [N, 1, 1, 1] so that it broadcasts over the sample. Two-pass
 * (mean first) like the float64 reference `perSampleDeviation`. The gradient is written out,
 * dσ/dx = (x − mean) / ((n − correction)·σ), so that a constant sample (flat image crops occur)
 * gives a finite gradient (zero when σ is exactly 0) instead of NaN from sqrt'(0).
 */
export function perSampleDeviationTensor(x: tf.Tensor4D, correction: 0 | 1): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const n = h * w * c;
  if (n - correction < 1) throw new Error(`perSampleDeviationTensor: a sample of ${n} value(s) has no deviation`);
  const op = (input: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const centred = tf.sub(input, tf.mean(input, [1, 2, 3], true));
    const sigma = tf.sqrt(tf.div(tf.sum(tf.square(centred), [1, 2, 3], true), n - correction));
    save([centred, sigma]);
    return {
      value: sigma,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.div(tf.mul(dy, saved[0]!), tf.mul(tf.maximum(saved[1]!, SIGMA_FLOOR), n - correction)),
    };
  };
  return tf.customGrad(op as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor4D;
}
