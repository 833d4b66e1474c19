import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { resizeBilinear } from './bilinear.js';
import { addRepeatedChannels, repeatChannels } from './channel-repeat.js';
import { checkGradients } from './gradient-check.js';
import { maxPool } from './max-pool.js';
import { pixelShuffle } from './pixel-shuffle.js';
import { seededUniform } from './seeded-random.js';
import { awayFromZero, maxAbsDiff, referenceBilinear, referenceMaxPool, toNhwc } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Values 0, 1, 2, … in NHWC order: every output element names the input element it came from. */
const indices = (shape: [number, number, number, number]) =>
  tf
    .range(
      0,
      shape.reduce((a, b) => a * b, 1),
    )
    .reshape(shape) as tf.Tensor4D;

describe('pixelShuffle', () => {
  it.each([2, 3])('follows PyTorch: output channel c at sub-pixel (i, j) is input channel c·r² + i·r + j (r = %i)', async (r) => {
    const [n, h, w, c] = [2, 3, 4, 2];
    const x = indices([n, h, w, c * r * r]);
    const y = pixelShuffle(x, r);
    expect(y.shape).toEqual([n, h * r, w * r, c]);
    const got = await y.data();
    const cin = c * r * r;
    let k = 0;
    for (let b = 0; b < n; b++)
      for (let oh = 0; oh < h * r; oh++)
        for (let ow = 0; ow < w * r; ow++)
          for (let oc = 0; oc < c; oc++) {
            const [hh, i, ww, j] = [Math.floor(oh / r), oh % r, Math.floor(ow / r), ow % r];
            expect(got[k++]).toBe(((b * h + hh) * w + ww) * cin + oc * r * r + i * r + j);
          }
    tf.dispose([x, y]);
  });

  it('has correct gradients and rejects channels not divisible by r²', async () => {
    const x = tf.variable(awayFromZero(1, 'x', [1, 2, 3, 8]));
    const report = await checkGradients(() => pixelShuffle(x as tf.Tensor4D, 2), new Map([['x', x]]));
    expect(report.maxError).toBeLessThan(1e-2);
    expect(() => pixelShuffle(x as tf.Tensor4D, 3)).toThrow('8 channels are not divisible by scale² = 9');
    x.dispose();
  });
});

describe('repeatChannels', () => {
  it('tiles the channel block like torch x.repeat(1, 16, 1, 1): channel k is input channel k mod 3', async () => {
    const x = indices([1, 2, 2, 3]);
    const y = repeatChannels(x, 16);
    expect(y.shape).toEqual([1, 2, 2, 48]);
    const got = await y.data();
    for (let p = 0; p < 4; p++) for (let k = 0; k < 48; k++) expect(got[p * 48 + k]).toBe(p * 3 + (k % 3));
    tf.dispose([x, y]);
  });

  it('adds the repeated input without materialising it, and both have correct gradients', async () => {
    const x = tf.variable(awayFromZero(2, 'x', [2, 3, 3, 3]));
    const y = tf.variable(awayFromZero(3, 'y', [2, 3, 3, 12]));
    const fused = addRepeatedChannels(y as tf.Tensor4D, x as tf.Tensor4D);
    const plain = tf.add(y, repeatChannels(x as tf.Tensor4D, 4));
    expect(maxAbsDiff(await fused.data(), await plain.data())).toBe(0);
    const params = new Map([
      ['x', x],
      ['y', y],
    ]);
    expect((await checkGradients(() => addRepeatedChannels(y as tf.Tensor4D, x as tf.Tensor4D), params)).maxError).toBeLessThan(1e-2);
    expect((await checkGradients(() => tf.square(repeatChannels(x as tf.Tensor4D, 4)), new Map([['x', x]]))).maxError).toBeLessThan(1e-2);
    expect(() => addRepeatedChannels(y as tf.Tensor4D, tf.zeros([2, 3, 3, 5]) as tf.Tensor4D)).toThrow(
      'cannot add [2, 3, 3, 5] repeated along channels to [2, 3, 3, 12]',
    );
    tf.dispose([x, y, fused, plain]);
  });
});

describe('resizeBilinear', () => {
  it.each([
    [2, 3, 15, 16],
    [7, 7, 45, 45],
    [1, 2, 5, 7],
    [4, 5, 4, 5],
    [9, 6, 4, 3],
  ])('matches PyTorch align_corners=False from %i×%i to %i×%i', async (h, w, height, width) => {
    const x = awayFromZero(4, `x${h}`, [2, h, w, 3]) as tf.Tensor4D;
    const y = resizeBilinear(x, height, width);
    expect(y.shape).toEqual([2, height, width, 3]);
    const ref = referenceBilinear(await toNhwc(x), height, width);
    expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-6);
    // tfjs' own forward with half-pixel centres agrees (its cpu gradient does not; see below).
    const tfjs = tf.image.resizeBilinear(x, [height, width], false, true);
    expect(maxAbsDiff(await tfjs.data(), ref.data)).toBeLessThan(1e-6);
    tf.dispose([x, y, tfjs]);
  });

  it('has correct gradients, where tf.image.resizeBilinear on cpu (half-pixel centres) does not', async () => {
    const x = tf.variable(awayFromZero(5, 'x', [2, 3, 4, 2]));
    const params = new Map([['x', x]]);
    const ours = await checkGradients(() => resizeBilinear(x as tf.Tensor4D, 7, 9), params);
    expect(ours.maxError).toBeLessThan(1e-2);
    // tfjs 4.22's cpu ResizeBilinearGrad ignores half-pixel centres and swaps height and width.
    const square = tf.variable(awayFromZero(6, 'square', [1, 3, 3, 2]));
    const theirs = await checkGradients(() => tf.image.resizeBilinear(square as tf.Tensor4D, [7, 7], false, true), new Map([['x', square]]));
    expect(theirs.maxError).toBeGreaterThan(0.1);
    await expect(checkGradients(() => tf.image.resizeBilinear(x as tf.Tensor4D, [7, 9], false, true), params)).rejects.toThrow('does not match the shape');
    tf.dispose([x, square]);
  });
});

describe('maxPool', () => {
  /** Distinct values, at least 2/size apart, so that a finite-difference step never changes the argmax. */
  const distinct = (shape: [number, number, number, number]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const keys = seededUniform(6, 'perm', size, 0, 1);
    const order = Array.from(keys.keys()).sort((a, b) => keys[a]! - keys[b]!);
    const values = new Float32Array(size);
    order.forEach((slot, rank) => (values[slot] = -1 + (2 * rank) / size));
    return tf.tensor4d(values, shape);
  };

  it.each([
    [15, 15],
    [9, 10],
    [7, 7],
  ])('takes 7×7 windows at stride 3 without padding (%i×%i)', async (h, w) => {
    const x = distinct([2, h, w, 3]);
    const y = maxPool(x, 7, 3);
    const ref = referenceMaxPool(await toNhwc(x), 7, 3);
    expect(y.shape).toEqual([...ref.shape]);
    expect(maxAbsDiff(await y.data(), ref.data)).toBe(0);
    tf.dispose([x, y]);
  });

  it('routes the gradient to each window maximum and rejects inputs smaller than the window', async () => {
    const x = tf.variable(distinct([1, 10, 11, 2]));
    const report = await checkGradients(() => maxPool(x as tf.Tensor4D, 7, 3), new Map([['x', x]]), { epsilon: 1e-3, samplesPerTensor: 40 });
    expect(report.maxError).toBeLessThan(1e-2);
    expect(() => maxPool(tf.zeros([1, 6, 9, 1]) as tf.Tensor4D, 7, 3)).toThrow('a 6×9 input is smaller than the 7×7 window');
    x.dispose();
  });
});
