import { tf, type ConvSite } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { hwgqFixedStep, imageStep } from './hwgq.js';
import { qatQuantizers } from './qat-quantizers.js';
import type { LayerQuant } from './quant-spec.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const site = (name: string): ConvSite => ({ name, shape: { kernelH: 3, kernelW: 3, inChannels: 2, outChannels: 3, groups: 1 } });
const values = (n: number, scale = 1, offset = 0) => Array.from({ length: n }, (_, i) => offset + scale * Math.sin(2.1 * i + 0.4) * Math.cos(0.31 * i));

describe('qatQuantizers', () => {
  it('quantizes each conv at the bits its spec gives, with stable variable names', () => {
    const spec: Record<string, LayerQuant> = {
      a: { weightBits: 4, activationBits: 6, weightScheme: 'lsq', activationScheme: 'hwgq', fixed: false },
      b: { weightBits: 8, activationBits: 8, weightScheme: 'lsq-symmetric', activationScheme: 'hwgq', fixed: true },
      c: { weightBits: 32, activationBits: 32, weightScheme: 'lsq', activationScheme: 'hwgq', fixed: false },
    };
    const factory = qatQuantizers((s) => spec[s.name]!);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => factory(site(n)));
    expect([...a!.variables().keys()]).toEqual(['wstep4', 'astep6']);
    expect([...b!.variables().keys()]).toEqual(['wstep8']);
    expect(b!.activationQuantizer.fixedStep).toBe(hwgqFixedStep(8));
    expect(c!.variables().size).toBe(0);
    const x = tf.tensor4d(values(32, 1, 0.2), [1, 4, 4, 2]);
    expect(Array.from(tf.tidy(() => c!.input(x, true).dataSync()))).toEqual(Array.from(tf.tidy(() => tf.relu(x).dataSync())));
    [a, b, c].forEach((q) => q!.dispose());
    x.dispose();
  });

  it('trains the steps: gradients reach the weight and activation steps', () => {
    const q = qatQuantizers(() => ({ weightBits: 3, activationBits: 5, weightScheme: 'lsq', activationScheme: 'hwgq' }))(site('conv'));
    const w = tf.variable(tf.tensor4d(values(54, 0.4), [3, 3, 2, 3]));
    const x = tf.tensor4d(values(32, 1.5, 0.3), [1, 4, 4, 2]);
    const r = tf.tensor4d(values(48), [1, 4, 4, 3]);
    const vars = [w, ...q.variables().values()];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.conv2d(q.input(x, true), q.weight(w, true), 1, 'same'), r)) as tf.Scalar, vars);
    for (const v of vars) expect(Array.from(grads[v.name]!.dataSync()).some((g) => Math.abs(g) > 1e-6)).toBe(true);
    tf.dispose([value, w, x, r, ...Object.values(grads)]);
    q.dispose();
  });

  it('starts from the steps of a trained spec and reports them back', async () => {
    const q = qatQuantizers(() => ({
      weightBits: 4,
      activationBits: 7,
      weightScheme: 'lsq',
      activationScheme: 'hwgq',
      weightSteps: [0.01, 0.02, 0.03],
      activationStep: 0.05,
    }))(site('conv'));
    const spec = await q.layerQuant(false);
    expect(spec.weightSteps).toEqual(Array.from(Float32Array.from([0.01, 0.02, 0.03])));
    expect(spec.activationStep).toBe(Math.fround(0.05));
    expect(spec.activationScheme).toBe('lsq');
    q.dispose();
  });

  it('quantizes an image input on the grid of [0, 1]: at 8 bits every uint8 level passes, at 4 bits 16 levels', async () => {
    const factory = qatQuantizers((s) => ({ weightBits: 8, activationBits: s.name === 'eight' ? 8 : 4, weightScheme: 'lsq', activationScheme: 'image' }));
    const [eight, four] = ['eight', 'four'].map((n) => factory(site(n)));
    expect(eight!.activationQuantizer.fixedStep).toBe(imageStep(8));
    expect(imageStep(8)).toBe(Math.fround(1 / 255));
    expect(four!.activationQuantizer.fixedStep).toBe(Math.fround(1 / 15));
    expect([...eight!.variables().keys()]).toEqual(['wstep8']);
    const levels = tf.tensor4d(
      Float32Array.from({ length: 256 }, (_, v) => v / 255),
      [1, 16, 16, 1],
    );
    const codes = Array.from(await tf.round(tf.mul(eight!.input(levels), 255)).data());
    expect(codes).toEqual(Array.from({ length: 256 }, (_, v) => v));
    expect(new Set(Array.from(await tf.round(tf.mul(four!.input(levels), 15)).data())).size).toBe(16);
    // A clipped or wrong range would show here: HWGQ's 8-bit step leaves 50 levels of [0, 1].
    const hwgq = qatQuantizers(() => ({ weightBits: 8, activationBits: 8, weightScheme: 'lsq', activationScheme: 'hwgq' }))(site('h'));
    expect(new Set(Array.from(await hwgq.input(levels).data())).size).toBe(50);
    expect((await eight!.layerQuant(true)).activationScheme).toBe('image');
    expect(() =>
      qatQuantizers(() => ({ weightBits: 8, activationBits: 8, weightScheme: 'lsq', activationScheme: 'image', activationStep: 0.02 }))(site('x')),
    ).toThrow(/Image 8-bit activations have the fixed step/);
    tf.dispose(levels);
    for (const q of [eight!, four!, hwgq]) q.dispose();
  });

  it('rejects bad bit-widths naming the value', () => {
    const factory = qatQuantizers(() => ({ weightBits: 9 as never, activationBits: 8, weightScheme: 'lsq', activationScheme: 'hwgq' }));
    expect(() => factory(site('conv'))).toThrow('bit-width 9 is not supported');
  });
});
