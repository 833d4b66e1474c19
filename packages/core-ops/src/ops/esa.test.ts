import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { createEsa, ESA_MIN_SIZE } from './esa.js';
import { checkGradients } from './gradient-check.js';
import { plainQuantizers } from './plain-quantizer.js';
import {
  add64,
  awayFromZero,
  mapNhwc,
  maxAbsDiff,
  mul64,
  recordingFactory,
  referenceBilinear,
  referenceConv,
  referenceMaxPool,
  relu64,
  smoothQuantizers,
  toNhwc,
  type Nhwc,
} from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TRAIN = { training: true };

describe('ESA', () => {
  it("computes RFDN's ESA with every conv input rectified (float64 reference)", async () => {
    const esa = createEsa({ name: 'esa', channels: 8, quantizers: plainQuantizers, seed: 3 });
    const x = awayFromZero(1, 'x', [2, 17, 16, 8]) as tf.Tensor4D;
    const conv = async (name: string, input: Nhwc, stride = 1, padding: 'same' | 'valid' = 'same') => {
      const c = esa.convs.find((k) => k.name === `esa.${name}`)!;
      return referenceConv(relu64(input), { shape: c.weight.shape, data: await c.weight.data() }, 1, stride, padding, await c.bias!.data());
    };
    const x64 = await toNhwc(x);
    const c1a = await conv('conv1', x64);
    const pooled = referenceMaxPool(await conv('conv2', c1a, 2, 'valid'), 7, 3);
    const low = await conv('conv3_', await conv('conv3', await conv('conv_max', pooled)));
    const up = referenceBilinear(low, 17, 16);
    const mask = mapNhwc(await conv('conv4', add64(up, await conv('conv_f', c1a))), (v) => 1 / (1 + Math.exp(-v)));
    const ref = mul64(x64, mask);
    const y = esa.apply(x, TRAIN);
    expect(y.shape).toEqual([2, 17, 16, 8]);
    expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    esa.dispose();
  });

  it("creates a quantizer for each of its seven convs, with f = C/4, and names variables by RFDN's conv names", () => {
    const sites: string[] = [];
    const esa = createEsa({ name: 'cell0.esa', channels: 48, quantizers: recordingFactory(plainQuantizers, sites), seed: 1 });
    expect(esa.reduced).toBe(12);
    expect(sites).toEqual([
      'cell0.esa.conv1:1x1:48->12/1',
      'cell0.esa.conv_f:1x1:12->12/1',
      'cell0.esa.conv2:3x3:12->12/1',
      'cell0.esa.conv_max:3x3:12->12/1',
      'cell0.esa.conv3:3x3:12->12/1',
      'cell0.esa.conv3_:3x3:12->12/1',
      'cell0.esa.conv4:1x1:12->48/1',
    ]);
    expect(esa.variables().size).toBe(14);
    expect(esa.variables().has('cell0.esa.conv3_.bias')).toBe(true);
    esa.dispose();
    const biasFree = createEsa({ name: 'e', channels: 8, quantizers: plainQuantizers, seed: 1, bias: false });
    expect([...biasFree.variables().keys()].every((k) => k.endsWith('.weight'))).toBe(true);
    biasFree.dispose();
  });

  it.each([
    [15, 15],
    [16, 16],
    [17, 19],
    [23, 16],
    [45, 45],
  ])('keeps the input shape at %i×%i', (h, w) => {
    const esa = createEsa({ name: 'e', channels: 4, quantizers: plainQuantizers, seed: 1 });
    const x = tf.ones([1, h, w, 4]) as tf.Tensor4D;
    const y = esa.apply(x, TRAIN);
    expect(y.shape).toEqual([1, h, w, 4]);
    tf.dispose([x, y]);
    esa.dispose();
  });

  it('rejects inputs below 15×15, and channels it cannot reduce, with clear messages', () => {
    expect(ESA_MIN_SIZE).toBe(15);
    const esa = createEsa({ name: 'e', channels: 4, quantizers: plainQuantizers, seed: 1 });
    for (const [h, w] of [
      [14, 20],
      [20, 14],
    ]) {
      const x = tf.zeros([1, h, w, 4]) as tf.Tensor4D;
      expect(() => esa.apply(x, TRAIN)).toThrow(`ESA 'e': input ${h}×${w} is too small; ESA needs at least 15×15`);
      x.dispose();
    }
    const wrong = tf.zeros([1, 16, 16, 5]) as tf.Tensor4D;
    expect(() => esa.apply(wrong, TRAIN)).toThrow("ESA 'e': expected 4 input channels, got 5");
    wrong.dispose();
    esa.dispose();
    expect(() => createEsa({ name: 'e', channels: 3, quantizers: plainQuantizers, seed: 1 })).toThrow('needs at least 4 channels (f = C/4), got 3');
  });

  it("counts MACs on each conv's own output grid", () => {
    const esa = createEsa({ name: 'e', channels: 48, quantizers: plainQuantizers, seed: 1 });
    // 45×45: conv2 gives 22×22, pooling 6×6.
    const full = 45 * 45 * (48 * 12 + 12 * 12 + 12 * 48);
    expect(esa.macs(45, 45)).toBe(full + 22 * 22 * 9 * 144 + 6 * 6 * 3 * 9 * 144);
    esa.dispose();
  });

  it('has correct gradients for its input and all its variables', async () => {
    const esa = createEsa({ name: 'e', channels: 4, quantizers: smoothQuantizers, seed: 5 });
    // A non-negative input (ESA follows a ReLU-fed conv in practice) and positive loss weights keep
    // the pooled branch's gradient, shared by every pixel, from cancelling down to float32 noise.
    const x = tf.variable(tf.abs(awayFromZero(2, 'x', [2, 16, 15, 4])));
    const report = await checkGradients(() => esa.apply(x as tf.Tensor4D, TRAIN), new Map([['x', x], ...esa.variables()]), {
      samplesPerTensor: 4,
      lossWeights: 'positive',
    });
    expect(report.tensors.length).toBe(1 + 7 * 3);
    expect(report.maxError, report.worst).toBeLessThan(1e-2);
    x.dispose();
    esa.dispose();
  });
});
