// The fused Adam update and sum of squares as WGSL kernels against the same kernels on the cpu
// backend. Runs when an adapter exists; QUANTNAS_REQUIRE_WEBGPU=1 (CI) turns a missing adapter
// into a failure.
import { initBackend, probeWebGpu, tf } from '@quantnas/core-ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedAdamUpdate, fusedSumSquares } from './fused-adam.js';

const requireWebGpu = process.env.QUANTNAS_REQUIRE_WEBGPU === '1';
const webgpuProbe = await probeWebGpu({ requireDriver: true });
const webgpuSkipReason = webgpuProbe.found ? undefined : `no WebGPU adapter (${webgpuProbe.reason}); run tools/setup-vulkan.sh and export what it prints`;
if (webgpuSkipReason && !requireWebGpu) console.warn(`[search] skipping the webgpu fused Adam tests: ${webgpuSkipReason}`);

const values = (n: number, phase: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => scale * Math.sin(1.3 * i + phase));
const shapes = [[3, 3, 4, 5], [5], [1], [7], [2, 3], [4], [3], [9], [1]];
const tensors = () =>
  shapes.map((s, i) =>
    tf.tensor(
      values(
        s.reduce((a, b) => a * b, 1),
        i,
        2,
      ),
      s,
    ),
  );

async function run(maxNorm: number): Promise<Float32Array[]> {
  const gs = tensors();
  const theta = tf.tensor(values(180, 0.3), [3, 3, 4, 5]);
  const m = tf.tensor(values(180, 1.1, 0.1), [3, 3, 4, 5]);
  const v = tf.tensor(values(180, 2.1, 0.1).map(Math.abs), [3, 3, 4, 5]);
  const outs: tf.Tensor[] = [fusedSumSquares(gs), fusedSumSquares(gs.slice(0, 2)), fusedSumSquares([])];
  const normSq = outs[0]!;
  const attrs = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 3e-4, lr: 1e-2, c1: 0.19, c2: 0.003, maxNorm };
  outs.push(...fusedAdamUpdate(theta, gs[0]!, m, v, normSq, attrs));
  const data = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...gs, theta, m, v, ...outs]);
  return data;
}

describe('fused Adam on webgpu', () => {
  it('has an adapter when QUANTNAS_REQUIRE_WEBGPU=1', () => {
    if (requireWebGpu) expect(webgpuProbe.found, webgpuSkipReason).toBe(true);
  });

  describe.skipIf(!webgpuProbe.found)(`on ${webgpuProbe.found ? webgpuProbe.adapter.description : 'no adapter'}`, () => {
    const expected = new Map<number, Float32Array[]>();
    let previous: string;
    beforeAll(async () => {
      previous = tf.getBackend();
      await initBackend('cpu');
      for (const maxNorm of [0, 1]) expected.set(maxNorm, await run(maxNorm));
      await initBackend('webgpu');
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    for (const maxNorm of [0, 1]) {
      it(`sums of squares (9, 2 and 0 tensors) and the update ${maxNorm ? 'clipped' : 'unclipped'} equal the cpu kernels'`, async () => {
        const got = await run(maxNorm);
        for (const k of ['QnasAdamUpdate', 'QnasSumSquares']) expect(tf.getKernel(k, 'webgpu'), k).toBeDefined();
        const want = expected.get(maxNorm)!;
        got.forEach((g, i) => {
          expect(g.length).toBe(want[i]!.length);
          for (let j = 0; j < g.length; j++)
            expect(Math.abs(g[j]! - want[i]![j]!), `output ${i}[${j}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]![j]!)));
        });
        expect(want[0]![0]).toBeGreaterThan(1); // clipping at 1 really clips
      });
    }
  });
});
