import { tf } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { clampSte, roundSte, scaleGradient, stopGradient } from './ste.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const grad = (f: (x: tf.Tensor) => tf.Tensor, values: number[], dy?: number[]) =>
  tf.tidy(() => {
    const x = tf.tensor1d(values);
    const g = tf.grad((t: tf.Tensor) => f(t))(x, dy ? tf.tensor1d(dy) : undefined);
    return Array.from(g.dataSync());
  });

describe('straight-through helpers', () => {
  it('roundSte rounds half to even and passes the gradient through unchanged', () => {
    const x = [-1.5, -0.5, 0.4, 0.5, 1.5, 2.5, 2.6];
    expect(Array.from(tf.tidy(() => roundSte(tf.tensor1d(x)).dataSync()))).toEqual([-2, 0, 0, 0, 2, 2, 3]);
    expect(grad(roundSte, x, [1, 2, 3, 4, 5, 6, 7])).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('clampSte has gradient exactly 1 strictly inside the range and 0 outside and on the bounds', () => {
    const x = [-3, -2, -1.9999, 0, 0.5, 1, 1.0001, 7];
    expect(Array.from(tf.tidy(() => clampSte(tf.tensor1d(x), -2, 1).dataSync()))).toEqual(Array.from(Float32Array.from([-2, -2, -1.9999, 0, 0.5, 1, 1, 1])));
    expect(grad((t) => clampSte(t, -2, 1), x, [3, 3, 3, 3, 3, 3, 3, 3])).toEqual([0, 0, 3, 3, 3, 0, 0, 0]);
  });

  it('stopGradient keeps the value and blocks the gradient; scaleGradient scales it', () => {
    expect(grad((t) => tf.add(stopGradient(t), tf.mul(t, 2)), [1, 2])).toEqual([2, 2]);
    expect(grad((t) => scaleGradient(t, 0.25), [1, 2], [4, 8])).toEqual([1, 2]);
    expect(Array.from(tf.tidy(() => stopGradient(tf.tensor1d([3, 4])).dataSync()))).toEqual([3, 4]);
  });
});
