import { initBackend, tf } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDiscreteNetwork } from './discrete-network.js';
import type { Genotype } from './genotype.js';
import { getSpace } from './registry.js';
import { createSupernet } from './supernet.js';
import { espcn, espcnGenotype } from './test-helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('discrete network', () => {
  // Hand count for espcn at C = 16, s = 3 (every layer on the LR grid):
  //   feature  simple_5x5 3 → 16, 8-bit:           5·5·3·16 = 1200
  //   shrink   conv_3x1_1x3 16 → (16) → 8, 4-bit:  3·16·16 + 3·16·8 = 1152
  //   refine   simple_3x3 8 → 8, 2-bit:            9·8·8 = 576
  //   project  fixed 3×3 8 → 27, 8-bit:            9·8·27 = 1944
  const params = 1200 + 1152 + 576 + 1944;
  const bitopsPerPixel = 1200 * 64 + 1152 * 16 + 576 * 4 + 1944 * 64;

  it('has the hand-counted parameters, MACs and BitOps (user spec)', async () => {
    const net = createDiscreteNetwork(espcn, espcnGenotype, { mode: 'qat', adq: true, seed: 1 });
    const weights = [...net.variables()].filter(([k]) => k.endsWith('.weight'));
    expect(weights.reduce((s, [, v]) => s + v.size, 0)).toBe(params);
    expect(net.convs.reduce((s, c) => s + c.conv.macsPerPixel, 0)).toBe(params);
    expect(net.convs.map((c) => [c.conv.name, c.bits, c.fixed])).toEqual([
      ['feature.simple_5x5.conv0', 8, false],
      ['shrink.conv_3x1_1x3.conv0', 4, false],
      ['shrink.conv_3x1_1x3.conv1', 4, false],
      ['refine_op.simple_3x3.conv0', 2, false],
      ['project', 8, true],
    ]);
    const report = net.costReport();
    expect(report.input).toEqual({ height: 32, width: 32 });
    expect(report.total).toEqual({ macs: params * 1024, params, bitops: bitopsPerPixel * 1024 });
    expect(report.layers.map((l) => l.name)).toEqual(net.convs.map((c) => c.conv.name));
    expect(report.perOutputMegapixel.bitops).toBeCloseTo((bitopsPerPixel * 1e6) / 9, 3);
    const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
    const y = net.apply(x, { training: true });
    expect(y.shape).toEqual([2, 24, 24, 3]);
    tf.dispose([x, y]);
    net.dispose();
  });

  it('is full precision in fp mode and drops a zero op', () => {
    const genotype: Genotype = { ...espcnGenotype, blocks: { ...espcnGenotype.blocks, refine_op: { op: 'zero', bits: 8 } } };
    const net = createDiscreteNetwork(espcn, genotype, { mode: 'fp', adq: false, seed: 1 });
    expect(net.convs.every((c) => c.bits === 32)).toBe(true);
    expect(net.costReport().total.params).toBe(params - 576);
    expect([...net.variables().keys()].some((k) => k.includes('step'))).toBe(false);
    net.dispose();
  });

  it.each([
    [{ ...espcnGenotype, space: 'rfdn' }, "genotype $.space: is for space 'rfdn', not 'my-espcn'"],
    [{ ...espcnGenotype, blocks: { ...espcnGenotype.blocks, tail: { op: 'simple_3x3', bits: 4 } } }, "genotype $.blocks.tail: unknown block 'tail'"],
    [
      { ...espcnGenotype, blocks: { ...espcnGenotype.blocks, shrink: { op: 'growth1_3x3', bits: 4 } } },
      "genotype $.blocks.shrink.op: 'growth1_3x3' is not a candidate of block 'shrink' (candidates: simple_3x3, simple_1x1, conv_3x1_1x3)",
    ],
    [{ ...espcnGenotype, blocks: { feature: espcnGenotype.blocks.feature! } }, 'genotype $.blocks: no choice for block(s) shrink, refine_op'],
  ] as [Genotype, string][])('rejects a genotype that does not fit (%#)', (genotype, message) => {
    expect(() => createDiscreteNetwork(espcn, genotype, { mode: 'qat', adq: true, seed: 1 })).toThrow(message);
  });

  it("builds a block at bits outside the space's list (a search with its own candidate bit-widths)", () => {
    const genotype: Genotype = { ...espcnGenotype, blocks: { ...espcnGenotype.blocks, shrink: { op: 'simple_1x1', bits: 6 } } };
    const net = createDiscreteNetwork(espcn, genotype, { mode: 'qat', adq: true, seed: 1 });
    expect(net.convs.filter((c) => c.bits === 6).length).toBeGreaterThan(0);
    net.dispose();
  });

  it('rejects a genotype searched at other channels or scale', () => {
    expect(() => createDiscreteNetwork(espcn, espcnGenotype, { mode: 'qat', adq: true, seed: 1, channels: 8 })).toThrow(
      'genotype $.channels: is for 16 channels, the network is built with 8',
    );
    expect(() => createDiscreteNetwork(espcn, espcnGenotype, { mode: 'qat', adq: true, seed: 1, scale: 2 })).toThrow('genotype $.scale: is for x3');
  });

  it.each([
    ['rfdn', 12, 4],
    ['basic', 6, 2],
  ] as const)('builds the arg-max genotype of %s, counts fixed convs and ESA in BitOps, and runs', async (id, channels, scale) => {
    const supernet = createSupernet(getSpace(id), { mode: 'noise', adq: true, seed: 1, channels, scale, cells: 2 });
    const genotype = await supernet.argmaxGenotype();
    const net = createDiscreteNetwork(getSpace(id), genotype, { mode: 'qat', adq: true, seed: 2, cells: 2 });
    const report = net.costReport();
    expect(report.total.bitops).toBe(supernet.exactBitops(genotype));
    expect(report.layers.map((l) => l.name)).toEqual(net.convs.map((c) => c.conv.name));
    const fixed = report.layers.filter((l) => net.convs.find((c) => c.conv.name === l.name)!.fixed);
    if (id === 'rfdn') {
      expect(fixed.map((l) => l.name)).toContain('cell0.esa.conv_max');
      expect(fixed.map((l) => l.name)).toContain('merge');
      // ESA's MACs in the report equal core-ops' own count for a 32×32 map.
      const esaMacs = report.layers.filter((l) => l.name.startsWith('cell0.esa.')).reduce((s, l) => s + l.macs, 0);
      const { createEsa, plainQuantizers } = await import('@quantnas/core-ops');
      const esa = createEsa({ name: 'e', channels, quantizers: plainQuantizers, seed: 1 });
      expect(esaMacs).toBeCloseTo(esa.macs(32, 32), 6);
      esa.dispose();
    } else expect(fixed).toEqual([]);
    for (const l of fixed) expect([l.weightBits, l.activationBits]).toEqual([8, 8]);
    const x = tf.randomUniform([1, 16, 16, 3]) as tf.Tensor4D;
    const y = net.apply(x, { training: false });
    expect(y.shape).toEqual([1, 16 * scale, 16 * scale, 3]);
    tf.dispose([x, y]);
    net.dispose();
    supernet.dispose();
  });
});
