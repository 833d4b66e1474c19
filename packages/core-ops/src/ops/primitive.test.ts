import { beforeAll, describe, expect, it } from 'vitest';
import { parsePrimitive, primitiveConvs, primitiveMacsPerPixel, type PrimitiveId } from '../primitives.js';
import { tf } from '../tf.js';
import { checkGradients } from './gradient-check.js';
import { plainQuantizers } from './plain-quantizer.js';
import { createPrimitive } from './primitive.js';
import { awayFromZero, maxAbsDiff, recordingFactory, referenceConv, relu64, smoothQuantizers, toNhwc } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TRAIN = { training: true };

// Every primitive of docs/method.md §3 with channels it accepts: [id, in, out, width].
const CASES: [PrimitiveId, number, number, number][] = [
  ['simple_1x1', 4, 6, 4],
  ['simple_3x3', 4, 6, 4],
  ['simple_5x5', 4, 6, 4],
  ['simple_1x1_grouped_2', 4, 6, 4],
  ['simple_3x3_grouped_2', 4, 6, 4],
  ['simple_5x5_grouped_3', 6, 3, 4],
  ['growth1_1x1', 4, 6, 4],
  ['growth1_3x3', 3, 3, 4],
  ['growth1_5x5', 4, 6, 4],
  ['growth2_1x1', 4, 6, 3],
  ['growth2_3x3', 4, 6, 3],
  ['growth2_5x5', 4, 4, 3],
  ['conv_3x1_1x3', 4, 6, 5],
  ['conv_5x1_1x5', 4, 6, 5],
  ['skip_connect', 4, 4, 4],
  ['zero', 4, 6, 4],
];

describe('createPrimitive', () => {
  it.each(CASES)('%s (%i → %i, width %i): output shape, convs and MACs per pixel', (id, cin, cout, width) => {
    const sites: string[] = [];
    const op = createPrimitive(id, { name: 'b', inChannels: cin, outChannels: cout, width, quantizers: recordingFactory(plainQuantizers, sites), seed: 1 });
    const x = tf.ones([2, 5, 7, cin]) as tf.Tensor4D;
    const y = op.apply(x, TRAIN);
    expect(y.shape).toEqual([2, 5, 7, cout]);
    expect(op.macsPerPixel).toBe(primitiveMacsPerPixel(parsePrimitive(id), cin, cout, width));
    const shapes = primitiveConvs(parsePrimitive(id), cin, cout, width);
    expect(sites).toEqual(shapes.map((s, i) => `b.conv${i}:${s.kernelH}x${s.kernelW}:${s.inChannels}->${s.outChannels}/${s.groups}`));
    expect([...op.variables().keys()]).toEqual(shapes.map((_, i) => `b.conv${i}.weight`));
    expect(op.convs.map((c) => c.weight.shape)).toEqual(shapes.map((s) => [s.kernelH, s.kernelW, s.inChannels / s.groups, s.outChannels]));
    tf.dispose([x, y]);
    op.dispose();
  });

  it('counts MACs like the cost model at the rfdn widths', () => {
    for (const id of [
      'simple_1x1',
      'simple_3x3',
      'simple_5x5',
      'growth1_1x1',
      'growth1_3x3',
      'growth1_5x5',
      'simple_1x1_grouped_2',
      'simple_3x3_grouped_2',
      'simple_5x5_grouped_2',
    ] as const) {
      for (const [cin, cout] of [
        [48, 48],
        [48, 24],
        [48, 48],
      ] as const) {
        const op = createPrimitive(id, { name: 'b', inChannels: cin, outChannels: cout, width: 48, quantizers: plainQuantizers, seed: 1 });
        expect(op.macsPerPixel).toBe(primitiveMacsPerPixel(parsePrimitive(id), cin, cout, 48));
        op.dispose();
      }
    }
  });

  it.each(CASES.filter(([id]) => id !== 'zero'))('%s: gradients for the input and every variable match finite differences', async (id, cin, cout, width) => {
    const op = createPrimitive(id, { name: 'b', inChannels: cin, outChannels: cout, width, quantizers: smoothQuantizers, seed: 2 });
    const x = tf.variable(awayFromZero(3, id, [2, 5, 5, cin]));
    const params = new Map([['x', x], ...op.variables()]);
    const report = await checkGradients(() => op.apply(x as tf.Tensor4D, TRAIN), params, { samplesPerTensor: 6 });
    expect(report.tensors.length).toBe(1 + 2 * op.convs.length);
    expect(report.maxError, `worst: ${report.worst}`).toBeLessThan(1e-2);
    x.dispose();
    op.dispose();
  });

  it.each(['simple_3x3', 'simple_5x5_grouped_2'] as const)('%s with the full-precision quantizer (ReLU) has correct gradients', async (id) => {
    const op = createPrimitive(id, { name: 'b', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 4 });
    const x = tf.variable(awayFromZero(5, id, [2, 5, 5, 4]));
    const report = await checkGradients(() => op.apply(x as tf.Tensor4D, TRAIN), new Map([['x', x], ...op.variables()]));
    expect(report.maxError).toBeLessThan(1e-2);
    x.dispose();
    op.dispose();
  });

  it('growth1 is conv(relu(conv(relu(x)))) through C channels; conv_Kx1_1xK is K×1 then 1×K', async () => {
    const x = awayFromZero(6, 'x', [1, 5, 6, 3]) as tf.Tensor4D;
    const x64 = await toNhwc(x);
    for (const id of ['growth1_3x3', 'growth2_3x3', 'conv_5x1_1x5'] as const) {
      const op = createPrimitive(id, { name: 'b', inChannels: 3, outChannels: 2, width: 4, quantizers: plainQuantizers, seed: 1 });
      const [c0, c1] = op.convs;
      const mid = referenceConv(relu64(x64), { shape: c0!.weight.shape, data: await c0!.weight.data() }, 1, 1, 'same');
      const ref = referenceConv(relu64(mid), { shape: c1!.weight.shape, data: await c1!.weight.data() }, 1, 1, 'same');
      const y = op.apply(x, TRAIN);
      expect(maxAbsDiff(await y.data(), ref.data)).toBeLessThan(1e-5);
      expect(c0!.shape.outChannels).toBe(id === 'growth2_3x3' ? 8 : 4);
      y.dispose();
      op.dispose();
    }
    x.dispose();
  });

  it('skip_connect is the identity and zero gives zeros with a zero gradient', async () => {
    const skip = createPrimitive('skip_connect', { name: 's', inChannels: 3, outChannels: 3, width: 3, quantizers: plainQuantizers, seed: 1 });
    const zero = createPrimitive('zero', { name: 'z', inChannels: 3, outChannels: 5, width: 3, quantizers: plainQuantizers, seed: 1 });
    const x = awayFromZero(1, 'x', [2, 3, 3, 3]) as tf.Tensor4D;
    const y = skip.apply(x, TRAIN);
    expect(Array.from(await y.data())).toEqual(Array.from(await x.data()));
    const z = zero.apply(x, TRAIN);
    expect(z.shape).toEqual([2, 3, 3, 5]);
    expect(Math.max(...(await z.data()).map(Math.abs))).toBe(0);
    const gz = tf.grad((t: tf.Tensor) => tf.sum(zero.apply(t as tf.Tensor4D, TRAIN)))(x);
    const gs = tf.grad((t: tf.Tensor) => tf.sum(skip.apply(t as tf.Tensor4D, TRAIN)))(x);
    expect(new Set(await gz.data())).toEqual(new Set([0]));
    expect(new Set(await gs.data())).toEqual(new Set([1]));
    expect(skip.variables().size + zero.variables().size).toBe(0);
    tf.dispose([x, y, z, gz, gs]);
  });

  it('initGain scales the initial weights of every conv, outputInitScale those of the last one on top', () => {
    const config = { name: 'b', inChannels: 3, outChannels: 2, width: 4, quantizers: plainQuantizers, seed: 5 };
    const plain = createPrimitive('growth1_3x3', config);
    const scaled = createPrimitive('growth1_3x3', { ...config, initGain: Math.sqrt(6), outputInitScale: 0.1 });
    const weights = (op: typeof plain) => op.convs.map((c) => Array.from(c.weight.dataSync()));
    const [p0, p1] = weights(plain);
    const [s0, s1] = weights(scaled);
    expect(
      maxAbsDiff(
        s0!,
        p0!.map((v) => Math.fround(v * Math.sqrt(6))),
      ),
    ).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        s1!,
        p1!.map((v) => Math.fround(v * Math.sqrt(6) * 0.1)),
      ),
    ).toBeLessThan(1e-6);
    plain.dispose();
    scaled.dispose();
  });

  it('rejects unknown ids and channel counts an op cannot take, naming the values', () => {
    const base = { name: 'b', width: 4, quantizers: plainQuantizers, seed: 1 };
    expect(() => createPrimitive('sep_conv_3x3', { ...base, inChannels: 4, outChannels: 4 })).toThrow("unknown op 'sep_conv_3x3'");
    expect(() => createPrimitive('simple_3x3_grouped_4', { ...base, inChannels: 6, outChannels: 8 })).toThrow('channels 6 → 8 are not divisible by 4 groups');
    expect(() => createPrimitive('skip_connect', { ...base, inChannels: 4, outChannels: 6 })).toThrow('skip_connect: needs equal channels, got 4 → 6');
    expect(() => createPrimitive('growth1_3x3', { ...base, inChannels: 4, outChannels: 4, width: 0 })).toThrow(
      "op 'b' (growth1_3x3): width must be a positive integer, got 0",
    );
    const op = createPrimitive('simple_1x1', { ...base, inChannels: 4, outChannels: 4 });
    const x = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(() => op.apply(x, TRAIN)).toThrow("op 'b' (simple_1x1): expected 4 input channels, got 3");
    x.dispose();
    op.dispose();
  });
});
