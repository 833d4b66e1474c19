import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { bicubicUpsampleFilter, BICUBIC_UPSAMPLE_KERNEL } from './bicubic-filter.js';
import { conv2d, createConv } from './conv.js';
import { pixelShuffle } from './pixel-shuffle.js';
import { plainQuantizers } from './plain-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Upscales an [h, w, channels] image with the filter: grouped conv, then pixel shuffle. */
function upscale(image: Float32Array, h: number, w: number, channels: number, scale: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(image, [1, h, w, channels]);
    const filter = tf.tensor4d(bicubicUpsampleFilter(channels, scale), [5, 5, 1, channels * scale * scale]);
    return pixelShuffle(conv2d(x, filter, { groups: channels }), scale).dataSync() as Float32Array;
  });
}

describe('bicubicUpsampleFilter', () => {
  it.each([2, 3, 4])('reproduces a linear ramp exactly away from the border, on every channel (x%i)', (scale) => {
    const [h, w, channels] = [7, 8, 3];
    // Channel c is the ramp 2·row + 3·col + c: cubic convolution reproduces linear functions, and
    // HR pixel (Y, X) samples LR coordinates ((Y + ½)/s − ½, (X + ½)/s − ½).
    const image = new Float32Array(h * w * channels);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) image[(y * w + x) * channels + c] = 2 * y + 3 * x + c;
    const out = upscale(image, h, w, channels, scale);
    const W = w * scale;
    let worst = 0;
    for (let Y = 2 * scale; Y < (h - 2) * scale; Y++) {
      for (let X = 2 * scale; X < (w - 2) * scale; X++) {
        for (let c = 0; c < channels; c++) {
          const expected = 2 * ((Y + 0.5) / scale - 0.5) + 3 * ((X + 0.5) / scale - 0.5) + c;
          worst = Math.max(worst, Math.abs(out[(Y * W + X) * channels + c]! - expected));
        }
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('keeps a constant image constant inside and takes weights summing to 1 per phase', () => {
    const scale = 4;
    const filter = bicubicUpsampleFilter(1, scale);
    for (let o = 0; o < scale * scale; o++) {
      let sum = 0;
      for (let t = 0; t < BICUBIC_UPSAMPLE_KERNEL ** 2; t++) sum += filter[t * scale * scale + o]!;
      expect(sum).toBeCloseTo(1, 6);
    }
  });

  it('initialises a conv, and a wrong-sized initial weight is a clear error', () => {
    const conv = createConv({
      name: 'skip',
      inChannels: 3,
      outChannels: 48,
      kernel: 5,
      groups: 3,
      quantizers: plainQuantizers,
      seed: 1,
      initialWeight: bicubicUpsampleFilter(3, 4),
    });
    expect(Array.from(conv.weight.dataSync())).toEqual(Array.from(bicubicUpsampleFilter(3, 4)));
    expect(conv.weight.trainable).toBe(true);
    conv.dispose();
    const frozen = createConv({
      name: 'skip',
      inChannels: 3,
      outChannels: 48,
      kernel: 5,
      groups: 3,
      bias: true,
      quantizers: plainQuantizers,
      seed: 1,
      initialWeight: bicubicUpsampleFilter(3, 4),
      trainable: false,
    });
    expect([frozen.weight.trainable, frozen.bias!.trainable]).toEqual([false, false]);
    frozen.dispose();
    expect(() =>
      createConv({
        name: 'skip',
        inChannels: 3,
        outChannels: 12,
        kernel: 5,
        groups: 3,
        quantizers: plainQuantizers,
        seed: 1,
        initialWeight: bicubicUpsampleFilter(3, 4),
      }),
    ).toThrow(/initialWeight has 1200 values, the filter \[5, 5, 1, 12\] needs 300/);
    expect(() => bicubicUpsampleFilter(3, 1)).toThrow(/scale must be an integer ≥ 2/);
  });
});
