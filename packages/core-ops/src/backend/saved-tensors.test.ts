import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from './select.js';

// f(x, y) = Σ exp(x)·y·x: exp saves its output, mul saves both inputs.
const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.exp(x), y), x));

describe.each(['wasm', 'cpu'] as const)('saved tensors on %s', (backend) => {
  it('are shared, not cloned: no Identity kernel in a gradient, the same gradients, nothing left behind', async () => {
    await initBackend(backend);
    const x = tf.tensor1d([0.5, -1, 2]);
    const y = tf.tensor1d([3, 0.25, -2]);
    const grads = () => tf.grads(f)([x, y]);
    tf.dispose(grads()); // kernel set-up
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    const profile = await tf.profile(() => {
      const [dx, dy] = grads();
      tf.dispose([dx!, dy!]);
    });
    expect(profile.kernels.map((k) => k.name)).not.toContain('Identity');
    const [dx, dy] = grads();
    const xs = [0.5, -1, 2];
    const ys = [3, 0.25, -2];
    // d/dx exp(x)·y·x = exp(x)·y·(x + 1); d/dy = exp(x)·x.
    expectClose(
      await dx!.data(),
      xs.map((v, i) => Math.exp(v) * ys[i]! * (v + 1)),
    );
    expectClose(
      await dy!.data(),
      xs.map((v) => Math.exp(v) * v),
    );
    tf.dispose([dx!, dy!]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([x, y]);
  });

  it('stay valid when the forward pass disposes the tensors they share a buffer with', async () => {
    await initBackend(backend);
    const x = tf.tensor1d([0.5, -1, 2]);
    const dx = tf.grad((v: tf.Tensor) => {
      const e = tf.exp(v);
      const out = tf.sum(tf.mul(e, e));
      e.dispose(); // the product saved e: its shared buffer must outlive this handle
      return out;
    })(x);
    // d/dx Σ exp(x)² = 2·exp(2x).
    expectClose(
      await dx.data(),
      [0.5, -1, 2].map((v) => 2 * Math.exp(2 * v)),
    );
    tf.dispose([x, dx]);
  });

  it('keep gradients of gradients right (tfjs clones while more than one tape records)', async () => {
    await initBackend(backend);
    const x = tf.tensor1d([0.5, -1, 2]);
    // d²/dx² Σ x³ = 6x.
    const second = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.mul(w, w), w)))(v)))(x);
    expectClose(await second.data(), [3, -6, 12]);
    tf.dispose([x, second]);
  });
});

function expectClose(got: ArrayLike<number>, want: number[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
}
