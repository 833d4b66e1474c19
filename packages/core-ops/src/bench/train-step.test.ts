import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend/select.js';
import type { ResolvedBackend } from '../backend.js';
import { trainableVariables } from '../module.js';
import { benchTrainStep, createReferenceNet, createTrainStep, REFERENCE_NET } from './index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('the reference net', () => {
  it('counts 51,552 MACs per LR pixel', () => {
    expect(REFERENCE_NET.macsPerLrPixel).toBe(51_552);
  });

  it('has the same gradients on wasm as on the cpu backend', async () => {
    const gradients = async (backend: ResolvedBackend) => {
      await initBackend(backend);
      const net = createReferenceNet(7);
      const lr = tf.randomUniform([2, 6, 5, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
      const hr = tf.randomUniform([2, 24, 20, 3], 0, 1, 'float32', 9);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(lr, { training: true }), hr))) as tf.Scalar, trainableVariables(net));
      const out = await Promise.all(Object.values(grads).map((g) => g.data()));
      tf.dispose([value, lr, hr, ...Object.values(grads)]);
      net.dispose();
      return out;
    };
    const cpu = await gradients('cpu');
    const wasm = await gradients('wasm');
    expect(wasm).toHaveLength(6);
    wasm.forEach((g, i) => {
      let diff = 0;
      let scale = 0;
      g.forEach((v, k) => {
        diff = Math.max(diff, Math.abs(v - cpu[i]![k]!));
        scale = Math.max(scale, Math.abs(cpu[i]![k]!));
      });
      expect(diff / scale).toBeLessThan(1e-5);
    });
  });

  it('trains without leaking tensors or wasm buffers over 50 steps', async () => {
    const run = createTrainStep({ batch: 2, size: 6 });
    const first = await run.step();
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    let last = first;
    for (let i = 0; i < 50; i++) last = await run.step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    expect(last).toBeLessThan(first); // Adam does reduce the L1 loss.
    run.dispose();
  });
});

describe('benchTrainStep', () => {
  it('reports throughput in the documented shape', async () => {
    const before = tf.memory().numTensors;
    const result = await benchTrainStep({ backend: 'wasm', steps: 2, warmup: 1, batch: 2, size: 8 });
    expect(result).toMatchObject({ backend: 'wasm', steps: 2, warmup: 1, batch: 2, size: 8, macs_per_step: 51_552 * 2 * 64 });
    expect(result.ms_per_step).toBeGreaterThan(0);
    expect(result.gflops).toBeCloseTo((6 * result.macs_per_step) / (result.ms_per_step * 1e6), 6);
    expect(result.forward_gflops).toBeGreaterThan(0);
    expect(Number.isFinite(result.final_loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects nonsense counts', async () => {
    await expect(benchTrainStep({ backend: 'wasm', steps: 0 })).rejects.toThrow(/steps must be a positive integer/);
  });
});
