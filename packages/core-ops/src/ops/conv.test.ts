import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { checkGradients } from './gradient-check.js';
import { BLOCK_DIAGONAL_MAX_IN, blockDiagonalFilter, conv2d, createConv, type GroupedConvMethod } from './conv.js';
import { plainQuantizers } from './plain-quantizer.js';
import { awayFromZero, maxAbsDiff, referenceConv, relu64, smoothQuantizers, toNhwc } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TRAIN = { training: true };

describe('grouped conv2d', () => {
  it.each<[GroupedConvMethod, number, number, number]>([
    ['split', 2, 4, 6],
    ['blockDiagonal', 2, 4, 6],
    ['split', 3, 6, 3],
    ['blockDiagonal', 3, 6, 9],
    ['auto', 2, 4, 4],
    ['depthwise', 4, 4, 8],
    ['auto', 4, 4, 4],
  ])('%s with %i groups (%i → %i) equals separate convs on channel slices', async (method, groups, cin, cout) => {
    const x = awayFromZero(1, 'x', [2, 5, 6, cin]) as tf.Tensor4D;
    const w = awayFromZero(2, 'w', [3, 3, cin / groups, cout]) as tf.Tensor4D;
    const y = conv2d(x, w, { groups, method });
    // Reference: one full conv per group on its slice of channels, results side by side.
    const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
    const ws = tf.split(w, groups, 3) as tf.Tensor4D[];
    const parts = xs.map((xg, g) => tf.conv2d(xg, ws[g]!, 1, 'same'));
    const expected = tf.concat(parts, 3);
    expect(y.shape).toEqual([2, 5, 6, cout]);
    expect(maxAbsDiff(await y.data(), await expected.data())).toBeLessThan(1e-5);
    // And the float64 reference of PyTorch's grouped conv.
    const ref = referenceConv(await toNhwc(x), { shape: w.shape, data: await w.data() }, groups, 1, 'same');
    expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-5);
    tf.dispose([x, w, y, ...xs, ...ws, ...parts, expected]);
  });

  it('computes stride-2 valid convs like PyTorch (padding 0)', async () => {
    const x = awayFromZero(3, 'x', [1, 9, 8, 2]) as tf.Tensor4D;
    const w = awayFromZero(4, 'w', [3, 3, 2, 3]) as tf.Tensor4D;
    const y = conv2d(x, w, { stride: 2, padding: 'valid' });
    expect(y.shape).toEqual([1, 4, 3, 3]);
    const ref = referenceConv(await toNhwc(x), { shape: w.shape, data: await w.data() }, 1, 2, 'valid');
    expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-5);
    tf.dispose([x, w, y]);
  });

  it('builds a block-diagonal filter with zeros between groups', async () => {
    const w = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 2, 4]);
    const dense = blockDiagonalFilter(w, 2);
    expect(dense.shape).toEqual([1, 1, 4, 4]);
    // Group 0 (outputs 0, 1) reads inputs 0, 1; group 1 (outputs 2, 3) reads inputs 2, 3.
    expect(Array.from(await dense.data())).toEqual([1, 2, 0, 0, 5, 6, 0, 0, 0, 0, 3, 4, 0, 0, 7, 8]);
    tf.dispose([w, dense]);
  });

  it.each<GroupedConvMethod>(['split', 'blockDiagonal', 'depthwise'])('has correct gradients by the %s method', async (method) => {
    const groups = method === 'depthwise' ? 4 : 2;
    const x = tf.variable(awayFromZero(5, 'x', [2, 4, 4, 4]));
    const w = tf.variable(awayFromZero(6, 'w', [3, 3, 4 / groups, 4]));
    const report = await checkGradients(
      () => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, { groups, method }),
      new Map([
        ['x', x],
        ['w', w],
      ]),
    );
    expect(report.maxError).toBeLessThan(1e-2);
    tf.dispose([x, w]);
  });

  it('auto: block-diagonal for narrow inputs, split for wide ones, depthwise where groups = inputs', async () => {
    const kernelsOf = async (cin: number, groups: number) => {
      const x = tf.ones([1, 4, 4, cin]) as tf.Tensor4D;
      const w = tf.ones([3, 3, cin / groups, cin]) as tf.Tensor4D;
      const info = await tf.profile(() => conv2d(x, w, { groups }));
      tf.dispose([x, w]);
      return new Set(info.kernelNames);
    };
    const narrow = await kernelsOf(BLOCK_DIAGONAL_MAX_IN, 2);
    expect(narrow.has('SplitV')).toBe(false);
    expect(narrow.has('Conv2D')).toBe(true);
    expect((await kernelsOf(BLOCK_DIAGONAL_MAX_IN + 2, 2)).has('SplitV')).toBe(true);
    expect((await kernelsOf(4, 4)).has('DepthwiseConv2dNative')).toBe(true);
  });

  it('rejects a filter that does not fit the input channels', () => {
    const x = tf.zeros([1, 3, 3, 5]) as tf.Tensor4D;
    const w = tf.zeros([3, 3, 2, 4]) as tf.Tensor4D;
    expect(() => conv2d(x, w, { groups: 2 })).toThrow('filter [3, 3, 2, 4] with 2 group(s) does not fit 5 input channels');
    tf.dispose([x, w]);
  });
});

describe('createConv', () => {
  it('passes the input and the weight through its quantizer: conv(relu(x), w) + b', async () => {
    const conv = createConv({ name: 'c', inChannels: 3, outChannels: 4, kernel: 3, bias: true, quantizers: plainQuantizers, seed: 7 });
    const x = awayFromZero(8, 'x', [1, 5, 5, 3]) as tf.Tensor4D;
    const y = conv.apply(x, TRAIN);
    const ref = referenceConv(relu64(await toNhwc(x)), { shape: conv.weight.shape, data: await conv.weight.data() }, 1, 1, 'same', await conv.bias!.data());
    expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    conv.dispose();
  });

  it('initialises like PyTorch: uniform within ±1/√fan_in, reproducible from the seed and the name', async () => {
    const make = (name: string, seed: number) =>
      createConv({ name, inChannels: 8, outChannels: 16, kernel: 3, groups: 2, bias: true, quantizers: plainQuantizers, seed });
    const a = make('a', 1);
    const again = make('a', 1);
    const other = make('b', 1);
    const w = Float32Array.from(await a.weight.data());
    const bound = 1 / Math.sqrt(3 * 3 * 4);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
    expect(Array.from(await again.weight.data())).toEqual(Array.from(w));
    expect(Array.from(await other.weight.data())).not.toEqual(Array.from(w));
    expect(Math.max(...Float32Array.from(await a.bias!.data()).map(Math.abs))).toBeLessThanOrEqual(bound);
    for (const c of [a, again, other]) c.dispose();
  });

  it('names its variables by dotted path, quantizer variables included, and creates its quantizer for its site', () => {
    const sites: string[] = [];
    const conv = createConv({
      name: 'cell0.conv',
      inChannels: 4,
      outChannels: 6,
      kernel: [5, 1],
      bias: true,
      quantizers: (site) => {
        sites.push(`${site.name} ${site.shape.kernelH}x${site.shape.kernelW} ${site.shape.inChannels}->${site.shape.outChannels}`);
        return smoothQuantizers(site);
      },
      seed: 1,
    });
    expect([...conv.variables().keys()]).toEqual(['cell0.conv.weight', 'cell0.conv.bias', 'cell0.conv.quantizer.scale']);
    expect(sites).toEqual(['cell0.conv 5x1 4->6']);
    expect(conv.weight.shape).toEqual([5, 1, 4, 6]);
    expect(conv.macsPerPixel).toBe(5 * 4 * 6);
    conv.dispose();
  });

  it('has correct gradients for input, weight, bias and quantizer variables', async () => {
    const conv = createConv({ name: 'c', inChannels: 4, outChannels: 4, kernel: 3, groups: 2, bias: true, quantizers: smoothQuantizers, seed: 3 });
    const x = tf.variable(awayFromZero(9, 'x', [2, 4, 4, 4]));
    const params = new Map([['x', x], ...conv.variables()]);
    const report = await checkGradients(() => conv.apply(x as tf.Tensor4D, TRAIN), params);
    expect(report.tensors.map((t) => t.name)).toEqual(['x', 'c.weight', 'c.bias', 'c.quantizer.scale']);
    expect(report.maxError).toBeLessThan(1e-2);
    x.dispose();
    conv.dispose();
  });

  it('rejects bad channel counts and inputs, naming the values', () => {
    const base = { name: 'c', kernel: 3, quantizers: plainQuantizers, seed: 1 } as const;
    expect(() => createConv({ ...base, inChannels: 6, outChannels: 5, groups: 2 })).toThrow("conv 'c': channels 6 → 5 are not divisible by 2 groups");
    expect(() => createConv({ ...base, inChannels: 0, outChannels: 5 })).toThrow('inChannels must be a positive integer, got 0');
    const conv = createConv({ ...base, inChannels: 3, outChannels: 4 });
    const x = tf.zeros([1, 4, 4, 5]) as tf.Tensor4D;
    expect(() => conv.apply(x, TRAIN)).toThrow("conv 'c': expected 3 input channels, got 5");
    x.dispose();
    conv.dispose();
  });
});
