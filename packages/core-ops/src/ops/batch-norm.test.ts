import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { createBatchNorm, foldBatchNorm } from './batch-norm.js';
import { checkGradients } from './gradient-check.js';
import { awayFromZero, maxAbsDiff, toNhwc } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TRAIN = { training: true };
const EVAL = { training: false };

/** Per-channel mean and biased/unbiased variance over (N, H, W), in float64. */
async function channelStats(x: tf.Tensor) {
  const { shape, data } = await toNhwc(x);
  const c = shape[3];
  const count = data.length / c;
  const mean = new Float64Array(c);
  const sq = new Float64Array(c);
  data.forEach((v, i) => (mean[i % c] += v / count));
  data.forEach((v, i) => (sq[i % c] += (v - mean[i % c]!) ** 2));
  return { mean, biased: sq.map((s) => s / count), unbiased: sq.map((s) => s / (count - 1)), data, c };
}

function makeBn(channels = 3) {
  const bn = createBatchNorm({ name: 'bn', channels, momentum: 0.1, epsilon: 1e-5 });
  bn.gamma.assign(tf.tensor1d([1.5, -0.5, 2].slice(0, channels)));
  bn.beta.assign(tf.tensor1d([0.1, 0.2, -0.3].slice(0, channels)));
  return bn;
}

describe('batch norm', () => {
  it('normalises with batch statistics in training and moves the running statistics by the momentum', async () => {
    const bn = makeBn();
    const x = tf.add(tf.mul(awayFromZero(1, 'x', [2, 3, 4, 3]), 2), 0.7) as tf.Tensor4D;
    const { mean, biased, unbiased, data, c } = await channelStats(x);
    const y = bn.apply(x, TRAIN);
    const gamma = [1.5, -0.5, 2];
    const beta = [0.1, 0.2, -0.3];
    const ref = data.map((v, i) => ((v - mean[i % c]!) / Math.sqrt(biased[i % c]! + 1e-5)) * gamma[i % c]! + beta[i % c]!);
    expect(maxAbsDiff(await y.data(), ref)).toBeLessThan(1e-5);
    expect(
      maxAbsDiff(
        await bn.runningMean.data(),
        mean.map((m) => 0.1 * m),
      ),
    ).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        await bn.runningVar.data(),
        unbiased.map((v) => 0.9 + 0.1 * v),
      ),
    ).toBeLessThan(1e-6);
    tf.dispose([x, y]);
    bn.dispose();
  });

  it('uses the running statistics at inference, whatever the batch', async () => {
    const bn = makeBn();
    bn.runningMean.assign(tf.tensor1d([0.5, -1, 2]));
    bn.runningVar.assign(tf.tensor1d([4, 0.25, 1]));
    const x = awayFromZero(2, 'x', [1, 2, 2, 3]) as tf.Tensor4D;
    const y = bn.apply(x, EVAL);
    const data = await x.data();
    const ref = Array.from(data, (v, i) => {
      const c = i % 3;
      return ((v - [0.5, -1, 2][c]!) / Math.sqrt([4, 0.25, 1][c]! + 1e-5)) * [1.5, -0.5, 2][c]! + [0.1, 0.2, -0.3][c]!;
    });
    expect(maxAbsDiff(await y.data(), ref)).toBeLessThan(1e-5);
    expect(Array.from(await bn.runningMean.data())).toEqual([0.5, -1, 2]);
    tf.dispose([x, y]);
    bn.dispose();
  });

  it('folds into a per-channel scale and shift that reproduce inference bit for bit', async () => {
    const bn = makeBn();
    bn.runningMean.assign(tf.tensor1d([0.3, -0.2, 1.1]));
    bn.runningVar.assign(tf.tensor1d([0.7, 2.5, 0.04]));
    const { scale, shift } = await foldBatchNorm(bn);
    expect(scale[0]).toBeCloseTo(1.5 / Math.sqrt(0.7 + 1e-5), 5);
    expect(shift[2]).toBeCloseTo(-0.3 - 1.1 * (2 / Math.sqrt(0.04 + 1e-5)), 4);
    const x = awayFromZero(3, 'x', [2, 3, 3, 3]) as tf.Tensor4D;
    const y = await bn.apply(x, EVAL).data();
    const folded = Array.from(await x.data(), (v, i) => Math.fround(Math.fround(v * scale[i % 3]!) + shift[i % 3]!));
    expect(Array.from(y)).toEqual(folded);
    x.dispose();
    bn.dispose();
  });

  it.each([
    ['training', TRAIN],
    ['inference', EVAL],
  ] as const)('has correct gradients for the input, gamma and beta in %s', async (_, ctx) => {
    const bn = makeBn();
    bn.runningMean.assign(tf.tensor1d([0.3, -0.2, 0.1]));
    bn.runningVar.assign(tf.tensor1d([0.7, 2.5, 0.5]));
    const x = tf.variable(awayFromZero(4, 'x', [2, 3, 3, 3]));
    // Squared so that the loss is not linear in the normalised values (whose sum is fixed in training).
    const report = await checkGradients(() => tf.square(bn.apply(x as tf.Tensor4D, ctx)), new Map([['x', x], ...bn.variables()]));
    expect(report.tensors.map((t) => t.name)).toEqual(['x', 'bn.gamma', 'bn.beta']);
    expect(report.maxError, report.worst).toBeLessThan(1e-2);
    x.dispose();
    bn.dispose();
  });

  it('updates the running statistics once per training step inside a gradient computation', async () => {
    const bn = makeBn();
    const x = awayFromZero(5, 'x', [4, 2, 2, 3]) as tf.Tensor4D;
    const { mean } = await channelStats(x);
    const optimizer = tf.train.sgd(0.1);
    optimizer.minimize(() => tf.sum(tf.square(bn.apply(x, TRAIN))) as tf.Scalar);
    expect(
      maxAbsDiff(
        await bn.runningMean.data(),
        mean.map((m) => 0.1 * m),
      ),
    ).toBeLessThan(1e-6);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(bn.apply(x, TRAIN))) as tf.Scalar);
    expect(Object.keys(grads).sort()).toEqual([bn.gamma.name, bn.beta.name].sort());
    expect(grads[bn.runningMean.name]).toBeUndefined();
    expect(
      maxAbsDiff(
        await bn.runningMean.data(),
        mean.map((m) => 0.19 * m),
      ),
    ).toBeLessThan(1e-6);
    tf.dispose([x, value, ...Object.values(grads)]);
    optimizer.dispose();
    bn.dispose();
  });

  it('names its variables and marks the running statistics non-trainable', () => {
    const bn = makeBn();
    expect([...bn.variables()].map(([k, v]) => `${k}:${v.trainable}`)).toEqual([
      'bn.gamma:true',
      'bn.beta:true',
      'bn.runningMean:false',
      'bn.runningVar:false',
    ]);
    bn.dispose();
  });

  it('rejects wrong channels, a single value per channel in training, and bad settings', () => {
    const bn = makeBn();
    const wrong = tf.zeros([2, 2, 2, 4]) as tf.Tensor4D;
    expect(() => bn.apply(wrong, TRAIN)).toThrow("batch norm 'bn': expected 3 input channels, got 4");
    const single = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    expect(() => bn.apply(single, TRAIN)).toThrow('training needs more than one value per channel, got a 1×1×1 batch');
    const y = bn.apply(single, EVAL);
    expect(y.shape).toEqual([1, 1, 1, 3]);
    tf.dispose([wrong, single, y]);
    bn.dispose();
    expect(() => createBatchNorm({ name: 'b', channels: 3, momentum: 1.5, epsilon: 1e-5 })).toThrow('momentum must lie in [0, 1], got 1.5');
  });
});
