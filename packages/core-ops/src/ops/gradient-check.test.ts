import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { checkGradients } from './gradient-check.js';
import { awayFromZero } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** x·w followed by a smooth nonlinearity, with its gradient optionally scaled by `skew`. */
function skewedOp(skew: number) {
  const op = (x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    const value = tf.tanh(tf.mul(x, w));
    return {
      value,
      gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => {
        const d = tf.mul(dy, tf.sub(1, tf.square(tf.tanh(tf.mul(xs!, ws!)))));
        return [tf.mul(tf.mul(d, ws!), skew), tf.mul(tf.mul(d, xs!), skew)];
      },
    };
  };
  return tf.customGrad(op as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
}

describe('checkGradients', () => {
  it('passes a correct gradient with a wide margin and fails one that is 2 % off', async () => {
    const x = tf.variable(awayFromZero(1, 'x', [2, 3, 3, 2]));
    const w = tf.variable(awayFromZero(2, 'w', [2, 3, 3, 2]));
    const params = new Map([
      ['x', x],
      ['w', w],
    ]);
    const exact = await checkGradients(() => skewedOp(1)(x, w), params);
    const off = await checkGradients(() => skewedOp(1.02)(x, w), params);
    expect(exact.maxError).toBeLessThan(1e-3);
    expect(off.maxError).toBeGreaterThan(1e-2);
    expect(off.maxError).toBeCloseTo(0.02, 3);
    tf.dispose([x, w]);
  });

  it('restores every variable it perturbs and skips non-trainable ones', async () => {
    const x = tf.variable(awayFromZero(3, 'x', [1, 2, 2, 2]));
    const frozen = tf.variable(tf.ones([1, 2, 2, 2]), false);
    const before = Array.from(await x.data());
    const report = await checkGradients(
      () => tf.mul(tf.square(x), frozen),
      new Map([
        ['x', x],
        ['frozen', frozen],
      ]),
    );
    expect(report.tensors.map((t) => t.name)).toEqual(['x']);
    expect(Array.from(await x.data())).toEqual(before);
    tf.dispose([x, frozen]);
  });

  it('reports a variable that no gradient reaches', async () => {
    const x = tf.variable(tf.ones([2]));
    const unused = tf.variable(tf.ones([2]));
    await expect(
      checkGradients(
        () => tf.square(x),
        new Map([
          ['x', x],
          ['unused', unused],
        ]),
      ),
    ).rejects.toThrow("no gradient reached 'unused'");
    tf.dispose([x, unused]);
  });
});
