// The supernet and the QAT network built with fused kernels against the same networks on the
// composed reference ops: same outputs and the same gradients to every weight, quantizer step and
// α, on wasm (the training backend). Float summation order alone separates them.
import { initBackend, tf } from '@quantnas/core-ops';
import type { QuantKernels } from '@quantnas/quant';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDiscreteNetwork } from './discrete-network.js';
import type { Genotype } from './genotype.js';
import { getSpace } from './registry.js';
import { createSupernet, type SearchMode } from './supernet.js';

beforeAll(async () => {
  await initBackend('wasm');
});

interface Result {
  loss: number;
  grads: Map<string, Float32Array>;
}

async function lossAndGrads(
  net: { apply: (x: tf.Tensor4D, ctx: { training: boolean }) => tf.Tensor4D },
  variables: ReadonlyMap<string, tf.Variable>,
  scale: number,
): Promise<Result> {
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const target = tf.randomUniform([2, 16 * scale, 16 * scale, 3], 0, 1, 'float32', 4);
  const list = [...variables.values()].filter((v) => v.trainable);
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(x, { training: true }), target))) as tf.Scalar, list);
  const byName = new Map<string, Float32Array>();
  for (const [key, v] of variables) if (grads[v.name]) byName.set(key, (await grads[v.name]!.data()) as Float32Array);
  const loss = (await value.data())[0]!;
  tf.dispose([x, target, value, ...Object.values(grads)]);
  return { loss, grads: byName };
}

function expectSameGradients(fused: Result, reference: Result, tol: number): void {
  expect(Math.abs(fused.loss - reference.loss)).toBeLessThan(1e-5);
  expect([...fused.grads.keys()].sort()).toEqual([...reference.grads.keys()].sort());
  let nonZero = 0;
  for (const [key, r] of reference.grads) {
    const f = fused.grads.get(key)!;
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < r.length; i++) {
      scale = Math.max(scale, Math.abs(r[i]!));
      worst = Math.max(worst, Math.abs(f[i]! - r[i]!));
    }
    if (scale > 0) nonZero++;
    expect(worst, key).toBeLessThanOrEqual(tol * Math.max(scale, 1e-5));
  }
  expect(nonZero).toBeGreaterThan(reference.grads.size / 2);
}

describe('fused kernels in whole networks', () => {
  for (const mode of ['noise', 'direct'] as SearchMode[]) {
    it(`rfdn-bicubic supernet (${mode}): loss and every weight and α gradient equal the reference path's`, async () => {
      const run = async (kernels: QuantKernels) => {
        const net = createSupernet(getSpace('rfdn-bicubic'), { mode, adq: true, seed: 5, channels: 12, cells: 1, kernels });
        try {
          // α away from uniform so that every op and bit-width weighs differently.
          for (const g of net.alphas()) g.variable.assign(tf.randomNormal([g.pairs.length], 0, 1, 'float32', g.id.length + 11) as tf.Tensor1D);
          return await lossAndGrads(net, new Map([...net.weightVariables(), ...net.alphaVariables()]), 4);
        } finally {
          net.dispose();
        }
      };
      expectSameGradients(await run('fused'), await run('reference'), 1e-4);
    });
  }

  it("QAT network of a mixed 4/8-bit rfdn-bicubic genotype: loss and every gradient (weights, LSQ steps) equal the reference path's", async () => {
    const space = getSpace('rfdn-bicubic');
    const probe = createSupernet(space, { mode: 'noise', adq: true, seed: 1, channels: 12, cells: 1 });
    const groups = probe.alphas().map((g) => g.id);
    const pairs = probe.alphas().map((g) => g.pairs);
    probe.dispose();
    const genotype: Genotype = {
      schemaVersion: 1,
      space: space.id,
      scale: 4,
      channels: 12,
      blocks: Object.fromEntries(groups.map((id, i) => [id, pairs[i]![(3 * i + 1) % pairs[i]!.length]!])),
    };
    expect(new Set(Object.values(genotype.blocks).map((b) => b.bits)).size).toBeGreaterThan(1);
    const run = async (kernels: QuantKernels) => {
      const net = createDiscreteNetwork(space, genotype, { mode: 'qat', adq: true, seed: 5, cells: 1, kernels });
      try {
        return await lossAndGrads(net, net.variables(), 4);
      } finally {
        net.dispose();
      }
    };
    expectSameGradients(await run('fused'), await run('reference'), 1e-4);
  });
});
