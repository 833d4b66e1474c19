import { tf } from '@quantnas/core-ops';
import { customOp } from './custom-grad.js';

// Gradient tricks built on tf.customGrad: tfjs has no stopGradient, and tf.where on an
// input-derived condition breaks gradients, so masks are tf.step products.

/** round(x) forward, identity backward (the straight-through estimator). */
export function roundSte<T extends tf.Tensor>(x: T): T {
  const f = customOp(([t]) => ({
    value: tf.round(t),
    gradFunc: (dy) => dy.clone(),
  }));
  return f(x) as T;
}

/**
 * clamp(x, lo, hi) whose gradient is 1 strictly inside (lo, hi) and 0 elsewhere, boundaries
 * included: a value sitting on a bound is clipped, as in LSQ's case split.
 */
export function clampSte<T extends tf.Tensor>(x: T, lo: number, hi: number): T {
  const f = customOp(([t], save) => {
    save([t]);
    return {
      value: tf.clipByValue(t, lo, hi),
      gradFunc: (dy, saved) => tf.mul(dy, insideMask(saved[0], lo, hi)),
    };
  });
  return f(x) as T;
}

/** 1 where lo < x < hi, else 0. */
export function insideMask(x: tf.Tensor, lo: number | tf.Tensor, hi: number | tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.step(tf.sub(x, lo)), tf.step(tf.sub(hi, x))));
}

/** The same value, no gradient: what PyTorch calls detach(). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = customOp(([t]) => ({
    value: t.clone(),
    gradFunc: (dy) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}

/** The same value, gradient multiplied by `g` (LSQ's step-gradient scaling). */
export function scaleGradient<T extends tf.Tensor>(x: T, g: number): T {
  const f = customOp(([t]) => ({
    value: t.clone(),
    gradFunc: (dy) => tf.mul(dy, g),
  }));
  return f(x) as T;
}
