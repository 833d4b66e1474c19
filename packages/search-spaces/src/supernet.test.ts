import { checkGradients, initBackend, parsePrimitive, primitiveMacsPerPixel, tf } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { getSpace } from './registry.js';
import { createSupernet, type Supernet, type SupernetOptions } from './supernet.js';
import { espcn, espcnGenotype } from './test-helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const lr = (h = 20, w = 20) => tf.randomUniform([1, h, w, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
const base: SupernetOptions = { mode: 'noise', adq: true, seed: 1 };

async function withNet<T>(spec: Parameters<typeof createSupernet>[0], options: SupernetOptions, body: (net: Supernet) => Promise<T>): Promise<T> {
  const net = createSupernet(spec, options);
  try {
    return await body(net);
  } finally {
    net.dispose();
  }
}

async function setAlpha(net: Supernet, group: string, values: number[]) {
  const g = net.alphas().find((a) => a.id === group)!;
  const t = tf.tensor1d(values);
  g.variable.assign(t);
  t.dispose();
}

describe('supernet', () => {
  it.each([
    ['rfdn', 12, 4],
    ['rfdn', 12, 2],
    ['basic', 6, 4],
    ['basic', 6, 2],
  ] as const)('%s (C = %i) maps a 20×20 LR batch to HR at x%i', async (id, channels, scale) => {
    await withNet(getSpace(id), { ...base, channels, scale, cells: 2 }, async (net) => {
      const x = lr();
      for (const training of [true, false]) {
        const y = net.apply(x, { training });
        expect(y.shape).toEqual([1, 20 * scale, 20 * scale, 3]);
        expect(Array.from(await y.data()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
      x.dispose();
    });
  });

  it.each(['noise', 'direct', 'fp'] as const)('sends non-zero finite gradients to every α and weight (rfdn, %s)', async (mode) => {
    await withNet(getSpace('rfdn'), { ...base, mode, channels: 12, cells: 1, scale: 2 }, async (net) => {
      const x = lr(32, 32);
      const variables = [...net.weightVariables().values(), ...net.alphaVariables().values()];
      const target = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 9);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(x, { training: true }), target))) as tf.Scalar, variables);
      expect(Object.keys(grads)).toHaveLength(variables.length);
      const names = new Map([...net.weightVariables(), ...net.alphaVariables()].map(([k, v]) => [v.name, k]));
      for (const [id, g] of Object.entries(grads)) {
        const values = Array.from(await g.data());
        expect(values.every(Number.isFinite), names.get(id)).toBe(true);
        // ESA's pooled branch sees a 3×3 map of f = 3 channels here; a rectified-away map gives a
        // legitimately zero gradient, so only finiteness is required of it.
        if (!/\.esa\.(conv2|conv_max|conv3_?)\./.test(names.get(id)!))
          expect(
            values.some((v) => v !== 0),
            names.get(id),
          ).toBe(true);
      }
      if (mode === 'direct') expect([...net.weightVariables().keys()].some((k) => k.includes('wstep'))).toBe(true);
      tf.dispose([x, target, value, grads]);
    });
  });

  it('lays α out op-major, one vector per block or group, initialised to zeros', async () => {
    await withNet(espcn, base, async (net) => {
      const shrink = net.alphas().find((g) => g.id === 'shrink')!;
      expect(shrink.pairs.map((p) => `${p.op}@${p.bits}`)).toEqual([
        'simple_3x3@2',
        'simple_3x3@4',
        'simple_3x3@8',
        'simple_1x1@2',
        'simple_1x1@4',
        'simple_1x1@8',
        'conv_3x1_1x3@2',
        'conv_3x1_1x3@4',
        'conv_3x1_1x3@8',
      ]);
      expect(Array.from(await shrink.variable.data())).toEqual(new Array(9).fill(0));
      expect([...net.alphaVariables().keys()]).toEqual(['alpha.feature', 'alpha.shrink', 'alpha.refine_op']);
      // Index k·|B| + b is (op k, bits b): a one-hot α there costs op k's MACs at b bits.
      await setAlpha(
        net,
        'feature',
        [0, 0, 0, 0, 0, 0].map((_, i) => (i === 4 ? 200 : -200)),
      );
      await setAlpha(
        net,
        'shrink',
        new Array(9).fill(0).map((_, i) => (i === 7 ? 200 : -200)),
      );
      await setAlpha(
        net,
        'refine_op',
        [0, 0, 0, 0, 0, 0].map((_, i) => (i === 5 ? 200 : -200)),
      );
      const macs = (op: string, cin: number, cout: number) => primitiveMacsPerPixel(parsePrimitive(op), cin, cout, 16) * 32 * 32;
      const expected = macs('simple_3x3', 3, 16) * 4 + macs('conv_3x1_1x3', 16, 8) * 4 + macs('zero', 8, 8) * 8;
      const bitops = net.expectedBitops();
      expect((await bitops.data())[0]).toBeCloseTo(expected, -2);
      bitops.dispose();
      expect((await net.argmaxGenotype()).blocks).toEqual({
        feature: { op: 'simple_3x3', bits: 4 },
        shrink: { op: 'conv_3x1_1x3', bits: 4 },
        refine_op: { op: 'zero', bits: 8 },
      });
    });
  });

  it('shares one α across the cells of an alpha group (basic)', async () => {
    await withNet(getSpace('basic'), { ...base, channels: 6, cells: 3 }, async (net) => {
      const body1 = net.alphas().find((g) => g.id === 'body1')!;
      expect(body1.blocks).toEqual(['cell0.body1', 'cell1.body1', 'cell2.body1']);
      expect(net.alphas()).toHaveLength(8);
    });
  });

  it('derives the arg-max genotype, ties going to the lower pair index, no fallback', async () => {
    await withNet(espcn, base, async (net) => {
      // All zeros: every pair ties, so pair 0.
      expect((await net.argmaxGenotype()).blocks.feature).toEqual({ op: 'simple_5x5', bits: 2 });
      // All negative: still the genuine maximum (the reference falls back to pair 0 here).
      await setAlpha(net, 'feature', [-3, -2, -1, -0.5, -4, -0.5]);
      expect((await net.argmaxGenotype()).blocks.feature).toEqual({ op: 'simple_3x3', bits: 2 });
      await setAlpha(net, 'feature', [0, Number.NaN, 0, 0, 0, 0]);
      await expect(net.argmaxGenotype()).rejects.toThrow("α of 'feature' has no finite maximum");
      await setAlpha(net, 'feature', [0, 0, 0, 0, 0, 0]);
      const g = await net.argmaxGenotype();
      expect([g.space, g.scale, g.channels, g.schemaVersion]).toEqual(['my-espcn', 3, 16, 1]);
    });
  });

  it('evaluates paths with their bits rounded when asked, and with the noise expectation by default', async () => {
    await withNet(espcn, base, async (net) => {
      const x = lr();
      // One path: every group's first op, at its lowest or its highest bit-width.
      const output = async (pick: 'low' | 'high') => {
        for (const g of net.alphas()) {
          const bits = g.pairs.filter((p) => p.op === g.pairs[0]!.op).map((p) => p.bits);
          const b = pick === 'low' ? Math.min(...bits) : Math.max(...bits);
          await setAlpha(
            net,
            g.id,
            g.pairs.map((p) => (p.op === g.pairs[0]!.op && p.bits === b ? 0 : -1e4)),
          );
        }
        await net.updateSkippedOps();
        const y = net.apply(x, { training: false });
        const v = Array.from(await y.data());
        y.dispose();
        return v;
      };
      const distance = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(net.evaluation).toBe('expectation');
      const expectedLow = await output('low');
      const expectedHigh = await output('high');
      expect(distance(expectedLow, expectedHigh)).toBe(0);
      net.evaluation = 'rounded';
      const roundedLow = await output('low');
      const roundedHigh = await output('high');
      expect(distance(roundedLow, expectedLow)).toBeGreaterThan(distance(roundedHigh, expectedHigh));
      expect(distance(roundedLow, roundedHigh)).toBeGreaterThan(0);
      expect(() => {
        net.evaluation = 'noisy' as 'rounded';
      }).toThrow("unknown evaluation 'noisy' (expected expectation or rounded)");
      x.dispose();
    });
  });

  it('skips ops whose P_k is exactly zero', async () => {
    await withNet(espcn, base, async (net) => {
      const x = lr();
      // Poison simple_1x1's weights: computing it at P_k = 0 would give 0·NaN = NaN.
      const w = net.weightVariables().get('shrink.simple_1x1.conv0.weight')!;
      const nan = tf.fill(w.shape, Number.NaN);
      w.assign(nan);
      nan.dispose();
      const nInf = Number.NEGATIVE_INFINITY;
      await setAlpha(net, 'shrink', [0, 0, 0, nInf, nInf, nInf, 0, 0, 0]);
      expect(await net.updateSkippedOps()).toEqual(['shrink:simple_1x1']);
      const y = net.apply(x, { training: true });
      expect(Array.from(await y.data()).every(Number.isFinite)).toBe(true);
      const h = net.entropy();
      expect(Number.isFinite((await h.data())[0]!)).toBe(true);
      tf.dispose([x, y, h]);
      await setAlpha(net, 'shrink', new Array(9).fill(0));
      expect(await net.updateSkippedOps()).toEqual([]);
    });
  });

  it('matches central finite differences: ∂ expectedBitops/∂α and ∂ entropy/∂α', async () => {
    for (const penaltyBits of ['linear', 'product'] as const) {
      await withNet(getSpace('basic'), { ...base, channels: 6, penaltyBits }, async (net) => {
        for (const [i, g] of net.alphas().entries()) {
          const t = tf.randomNormal([g.pairs.length], 0, 1, 'float32', 100 + i);
          g.variable.assign(t as tf.Tensor1D);
          t.dispose();
        }
        const bitops = await checkGradients(() => net.expectedBitops(), net.alphaVariables(), { samplesPerTensor: 4 });
        expect(bitops.maxError).toBeLessThan(1e-2);
        const entropy = await checkGradients(() => net.entropy(), net.alphaVariables(), { samplesPerTensor: 4, epsilon: 1e-3 });
        expect(entropy.maxError).toBeLessThan(1e-2);
      });
    }
  });

  it('states expected BitOps per group from MACs on each block grid, and entropy at uniform α', async () => {
    await withNet(getSpace('basic'), { ...base, channels: 6, costInput: { height: 8, width: 8 } }, async (net) => {
      const plan = net.plan;
      let expected = 0;
      let entropy = 0;
      for (const g of plan.groups) {
        entropy += Math.log(g.pairs.length);
        for (const { op, bits } of g.pairs) {
          for (const b of g.blocks) {
            const pixels = 64 * (b.grid === 'hr' ? 16 : 1);
            expected += (primitiveMacsPerPixel(parsePrimitive(op), b.inChannels, b.outChannels, b.width) * pixels * bits) / g.pairs.length;
          }
        }
      }
      const [b, h] = [net.expectedBitops(), net.entropy()];
      expect((await b.data())[0]! / expected).toBeCloseTo(1, 5);
      expect((await h.data())[0]).toBeCloseTo(entropy, 4);
      tf.dispose([b, h]);
      expect(net.exactBitops(espcnGenotypeFor(net))).toBeGreaterThan(0);
    });
  });

  it('samples Gumbel-softmax probabilities reproducibly from the seed', async () => {
    const draws = (seed: number) =>
      withNet(espcn, { ...base, selector: 'gumbel', temperature: 0.5, seed }, async (net) => {
        const out: number[][] = [];
        for (let i = 0; i < 2; i++) {
          const p = net.sampleProbabilities();
          out.push(Array.from(await p.get('shrink')!.data()));
          tf.dispose([...p.values()]);
        }
        return out;
      });
    const [a, b, c] = [await draws(3), await draws(3), await draws(4)];
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(a[1]);
    expect(a[0]).not.toEqual(c[0]);
    expect(a[0]!.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });

  it('has ADQ units only when ADQ is on', async () => {
    const structure = (adq: boolean) => withNet(getSpace('rfdn'), { ...base, adq, channels: 12, cells: 1 }, async (net) => [...net.variables().keys()]);
    const [on, off] = [await structure(true), await structure(false)];
    expect(on).toContain('cell0.unit.bn.gamma');
    expect(on).toContain('cell0.unit.phi.slope');
    expect(off.some((k) => k.includes('.bn.') || k.includes('.phi.'))).toBe(false);
    expect(on.length - off.length).toBe(6);
  });

  it('builds fp mode with op@32 pairs', async () => {
    await withNet(espcn, { ...base, mode: 'fp', bits: [4] }, async (net) => {
      expect(net.alphas()[0]!.pairs).toEqual([
        { op: 'simple_5x5', bits: 32 },
        { op: 'simple_3x3', bits: 32 },
      ]);
    });
  });

  it('exact BitOps of a genotype count fixed layers too', async () => {
    await withNet(espcn, base, async (net) => {
      expect(net.exactBitops(espcnGenotype)).toBe(227_278_848);
      expect(() => net.exactBitops({ ...espcnGenotype, scale: 2 })).toThrow('genotype $.scale: is for x2, the network is built at x3');
    });
  });

  it('does not leak tensors over repeated forward and backward passes', async () => {
    await withNet(getSpace('rfdn'), { ...base, channels: 12, cells: 1, scale: 2, selector: 'gumbel' }, async (net) => {
      const x = lr();
      const variables = [...net.weightVariables().values(), ...net.alphaVariables().values()];
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.addN([tf.mean(net.apply(x, { training: true })), tf.mul(net.entropy(), 1e-3), tf.mul(net.expectedBitops(), 1e-12)]) as tf.Scalar,
          variables,
        );
        tf.dispose([value, grads]);
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      const y = net.apply(x, { training: false });
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
});

function espcnGenotypeFor(net: Supernet) {
  return {
    schemaVersion: 1 as const,
    space: net.plan.id,
    scale: net.plan.scale,
    channels: net.plan.channels,
    blocks: Object.fromEntries(net.plan.groups.map((g) => [g.id, g.pairs[0]!])),
  };
}
