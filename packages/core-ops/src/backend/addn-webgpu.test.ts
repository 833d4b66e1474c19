// tf.addN over more inputs than a WebGPU device can bind in one shader (core-ops sums them in
// chunks; see kernels/AddN.webgpu.ts), against the cpu backend. Runs when an adapter exists;
// QUANTNAS_REQUIRE_WEBGPU=1 (CI) turns a missing adapter into a failure.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { seededUniform } from '../ops/seeded-random.js';
import { initBackend } from './select.js';
import { probeWebGpu } from './webgpu.js';

const requireWebGpu = process.env.QUANTNAS_REQUIRE_WEBGPU === '1';
const webgpuProbe = await probeWebGpu({ requireDriver: true });
const webgpuSkipReason = webgpuProbe.found ? undefined : `no WebGPU adapter (${webgpuProbe.reason}); run tools/setup-vulkan.sh and export what it prints`;
if (webgpuSkipReason && !requireWebGpu) {
  console.warn(`[core-ops] skipping the webgpu AddN tests: ${webgpuSkipReason}`);
}

const SHAPE = [3, 5];
const inputs = (n: number) => Array.from({ length: n }, (_, i) => seededUniform(7, `x${i}`, 15, -1, 1));
const weights = (n: number) => Array.from({ length: n }, (_, i) => 0.5 + i / n);
const target = seededUniform(7, 'r', 15, -1, 1);

/** The sum, and the gradient of Σ r·(Σ cᵢ·xᵢ)² with respect to every xᵢ, on the active backend. */
async function sumAndGrads(values: Float32Array[]): Promise<{ sum: Float32Array; grads: Float32Array[] }> {
  const xs = values.map((v) => tf.tensor(v, SHAPE));
  const c = weights(values.length);
  const r = tf.tensor(target, SHAPE);
  const sum = tf.addN(xs);
  const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(tf.square(tf.addN(ts.map((t, i) => tf.mul(t, c[i]!)))), r)))(xs);
  const out = { sum: (await sum.data()) as Float32Array, grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)) };
  tf.dispose([...xs, r, sum, ...grads]);
  return out;
}

function maxRelativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

interface GpuDeviceLike {
  readonly limits: { readonly maxStorageBuffersPerShaderStage: number };
  pushErrorScope(filter: 'validation'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}
const device = () => (tf.backend() as unknown as { device: GpuDeviceLike }).device;

describe('webgpu AddN beyond the storage-buffer limit', () => {
  it('has an adapter when QUANTNAS_REQUIRE_WEBGPU=1', () => {
    if (requireWebGpu) expect(webgpuProbe.found, webgpuSkipReason).toBe(true);
  });

  describe.skipIf(!webgpuProbe.found)(`on ${webgpuProbe.found ? webgpuProbe.adapter.description : 'no adapter'}`, () => {
    const others = ['cpu', 'webgl'].map((b) => [b, tf.getKernel(tf.AddN, b)] as const);
    let limit = 0;
    let counts: number[] = [];
    const expected = new Map<number, Awaited<ReturnType<typeof sumAndGrads>>>();

    beforeAll(async () => {
      const info = await initBackend('webgpu');
      limit = device().limits.maxStorageBuffersPerShaderStage;
      expect(info.detail).toContain(`AddN in chunks of ${limit - 1}`);
      // Up to one shader's worth, just past it, two full chunks and more.
      counts = [limit - 1, limit, limit + 5, 3 * limit + 1];
      await initBackend('cpu');
      for (const n of counts) expected.set(n, await sumAndGrads(inputs(n)));
      await initBackend('webgpu');
    });

    it('sums limit − 1 … 3·limit + 1 inputs as the cpu backend does, gradients included', async () => {
      for (const n of counts) {
        device().pushErrorScope('validation');
        const got = await sumAndGrads(inputs(n));
        const error = await device().popErrorScope();
        expect(error?.message, `${n} inputs: Dawn validation`).toBeUndefined();
        const want = expected.get(n)!;
        expect(maxRelativeError(got.sum, want.sum), `${n} inputs: sum`).toBeLessThanOrEqual(1e-6);
        expect(got.grads).toHaveLength(n);
        got.grads.forEach((g, i) => expect(maxRelativeError(g, want.grads[i]!), `${n} inputs: gradient ${i}`).toBeLessThanOrEqual(1e-6));
      }
    });

    it('releases the partial sums', async () => {
      const xs = inputs(limit + 5).map((v) => tf.tensor(v, SHAPE));
      tf.addN(xs).dispose(); // pipelines compiled once
      const buffers = tf.engine().backend.numDataIds();
      const tensors = tf.memory().numTensors;
      const sum = tf.addN(xs);
      await sum.data();
      expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
      expect(tf.memory().numTensors).toBe(tensors + 1);
      tf.dispose([sum, ...xs]);
    });

    it('leaves the other backends alone', () => {
      for (const [backend, kernel] of others) expect(tf.getKernel(tf.AddN, backend), backend).toBe(kernel);
      expect(tf.getKernel(tf.AddN, 'cpu')).toBeDefined();
    });
  });
});
