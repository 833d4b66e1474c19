import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { benchWasmKernels } from './wasm-kernels.js';
import { filterGradientTuning } from '../backend/kernels/Conv2DBackpropFilter.js';
import { depthwiseFilterGradientTuning } from '../backend/kernels/DepthwiseConv2dNativeBackpropFilter.js';

describe('benchWasmKernels', () => {
  it('times every replacement against its alternative, whose outputs agree, and leaves no tensor behind and the tuning as it was', async () => {
    await benchWasmKernels({ tiny: true, reps: 1 }); // kernel set-up
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    const bench = await benchWasmKernels({ tiny: true, reps: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    expect(bench.cases.map((c) => c.kernel)).toEqual([
      'SplitV',
      'Slice',
      'Tile',
      ...Array<string>(6).fill('Conv2DBackpropFilter'),
      'DepthwiseConv2dNativeBackpropFilter',
    ]);
    for (const c of bench.cases) {
      expect(c.oursMs).toBeGreaterThan(0);
      expect(c.otherMs).toBeGreaterThan(0);
      expect(c.speedup).toBeCloseTo(c.otherMs / c.oursMs, 10);
      expect(c.ours).not.toBe(c.other);
      // The copies are exact; the two ways of a filter gradient sum in different orders.
      if (c.kernel.includes('Conv')) expect(c.relativeDifference).toBeLessThan(1e-5);
      else expect(c.relativeDifference).toBe(0);
    }
    expect(filterGradientTuning.path).toBe('auto');
    expect(depthwiseFilterGradientTuning.path).toBe('auto');
  });

  it('rejects a bad repetition count', async () => {
    await expect(benchWasmKernels({ reps: 0 })).rejects.toThrow(/reps must be a positive integer/);
  });
});
