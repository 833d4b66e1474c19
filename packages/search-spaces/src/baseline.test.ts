import { bicubicUpsampleFilter, initBackend, tf, trainableVariables } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { baselineGenotype } from './baseline.js';
import { checkGenotype } from './genotype-check.js';
import { createDiscreteNetwork } from './discrete-network.js';
import { getSpace } from './registry.js';
import { resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('baselineGenotype', () => {
  it("gives rfdn RFDN's own ops (1×1 distillation, 3×3 bodies, 3×3 upsampling) at uniform bits", () => {
    const { spec, genotype } = baselineGenotype(getSpace('rfdn'), { bits: 4, channels: 12, cells: 2 });
    expect([genotype.space, genotype.channels, genotype.scale, spec.bits, spec.fixedBits]).toEqual(['rfdn', 12, 4, [4], 8]);
    expect(genotype.blocks['cell1.skip2']).toEqual({ op: 'simple_1x1', bits: 4 });
    expect(genotype.blocks['cell0.body3']).toEqual({ op: 'simple_3x3', bits: 4 });
    expect(genotype.blocks.upsample).toEqual({ op: 'simple_3x3', bits: 4 });
    expect(Object.keys(genotype.blocks)).toHaveLength(2 * 7 + 2);
    checkGenotype(resolveSpace(spec, { channels: 12, cells: 2 }), genotype);
  });

  it('takes the only op of a fixed architecture, and 32 bits makes the fixed layers full precision too', () => {
    const { spec, genotype } = baselineGenotype(getSpace('fsrcnn'), { bits: 32 });
    expect([spec.bits, spec.fixedBits, genotype.channels]).toEqual([[32], 32, 56]);
    expect(Object.keys(genotype.blocks)).toEqual(['feature', 'shrink', 'map0.conv', 'map1.conv', 'map2.conv', 'map3.conv', 'expand', 'upsample']);
    expect(new Set(Object.values(genotype.blocks).map((b) => b.bits))).toEqual(new Set([32]));
  });

  it('rfdn-bicubic starts as bicubic upscaling: its anchor conv holds the bicubic filter', () => {
    const { spec, genotype } = baselineGenotype(getSpace('rfdn-bicubic'), { bits: 8, channels: 12, cells: 1 });
    const net = createDiscreteNetwork(spec, genotype, { mode: 'fp', adq: true, seed: 1, cells: 1 });
    try {
      const anchor = net.convs.find((c) => c.conv.name === 'anchor');
      expect(anchor?.fixed).toBe(true);
      expect(Array.from(anchor!.conv.weight.dataSync())).toEqual(Array.from(bicubicUpsampleFilter(3, 4)));
      expect(anchor!.conv.shape).toMatchObject({ kernelH: 5, kernelW: 5, inChannels: 3, outChannels: 48, groups: 3 });
      // Frozen: training leaves its weights alone (its quantizer's step is still trained).
      expect(anchor!.conv.weight.trainable).toBe(false);
      expect(trainableVariables(net)).not.toContain(anchor!.conv.weight);
      const y = tf.tidy(() => net.apply(tf.zeros([1, 16, 16, 3]), { training: false }).shape);
      expect(y).toEqual([1, 64, 64, 3]);
    } finally {
      net.dispose();
    }
  });
  it("fsrcnn's plain chain passes a gradient at 8 and 4 bits with He init; the default init starves HWGQ and stops it", () => {
    const withoutHe = JSON.parse(JSON.stringify(getSpace('fsrcnn')), (k, v: unknown) => (k === 'init' && v === 'he' ? undefined : v));
    const upsampleGradient = (space: SearchSpaceSpec, bits: 4 | 8) => {
      const { spec, genotype } = baselineGenotype(space, { bits });
      const net = createDiscreteNetwork(spec, genotype, { mode: 'qat', adq: true, seed: 1 });
      try {
        const x = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
        const upsample = net.convs.find((c) => c.conv.name.startsWith('upsample'))!.conv.weight;
        const { grads } = tf.variableGrads(() => tf.mean(tf.abs(net.apply(x, { training: true }))) as tf.Scalar, [upsample]);
        const g = tf.max(tf.abs(grads[upsample.name]!)).dataSync()[0]!;
        tf.dispose([x, ...Object.values(grads)]);
        return g;
      } finally {
        net.dispose();
      }
    };
    for (const bits of [8, 4] as const) {
      expect(upsampleGradient(getSpace('fsrcnn'), bits)).toBeGreaterThan(1e-3);
      // Seven convs at PyTorch's default bound shrink the activations below half of HWGQ's step: all zero.
      expect(upsampleGradient(withoutHe, bits)).toBe(0);
    }
  });

  it('rfdn-bicubic quantizes the image inputs of its skip and tail on [0, 1], everything else with HWGQ', () => {
    const { spec, genotype } = baselineGenotype(getSpace('rfdn-bicubic'), { bits: 4, channels: 12, cells: 1 });
    const tail = { op: 'growth1_3x3' as const, bits: 4 as const };
    const net = createDiscreteNetwork(spec, { ...genotype, blocks: { ...genotype.blocks, tail } }, { mode: 'qat', adq: true, seed: 1, cells: 1 });
    try {
      const scheme = (name: string) => {
        const conv = net.convs.find((c) => c.conv.name === name)!.conv;
        const aq = (conv.quantizer as unknown as { activationQuantizer: { scheme: string; fixedStep: number | null } }).activationQuantizer;
        return [aq.scheme, aq.fixedStep];
      };
      expect(scheme('anchor')).toEqual(['image', Math.fround(1 / 255)]);
      expect(scheme('tail.growth1_3x3.conv0')).toEqual(['image', Math.fround(1 / 15)]);
      // The op's second conv reads features, not the image.
      expect(scheme('tail.growth1_3x3.conv1')[0]).toBe('hwgq');
      expect(scheme('merge')[0]).toBe('hwgq');
    } finally {
      net.dispose();
    }
  });
});
