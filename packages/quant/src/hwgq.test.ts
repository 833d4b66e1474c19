import { tf } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivationQuantizer } from './activation-quantizer.js';
import { hwgqFixedStep, hwgqQuantize } from './hwgq.js';
import { roundHalfEven } from './integer.js';
import { lsqGradScale } from './lsq.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const X = [-1, -0.1, 0, 0.05, 0.3, 0.7, 1.2, 1.9, 2.5, 9];

describe('HWGQ', () => {
  it('uses the published steps', () => {
    expect(hwgqFixedStep(2)).toBe(Math.fround(0.6356));
    expect(hwgqFixedStep(3)).toBe(Math.fround(0.3721));
    expect(hwgqFixedStep(4)).toBe(Math.fround(0.21306));
    expect(hwgqFixedStep(8)).toBe(Math.fround(0.020301));
    expect(hwgqFixedStep(5)).toBeUndefined();
  });

  it('outputs the 2^b levels k·step, clipped at 0 and step·(2^b − 1)', () => {
    const step = hwgqFixedStep(2)!;
    const out = Array.from(tf.tidy(() => hwgqQuantize(tf.tensor1d(X), 2, step).dataSync()));
    const levels = [0, 1, 2, 3].map((k) => Math.fround(k * step));
    expect(out).toEqual(X.map((x) => levels[Math.min(3, Math.max(0, roundHalfEven(x / step)))]!));
    expect(new Set(out)).toEqual(new Set(levels));
  });

  it('has gradient 1 strictly inside (0, clip) and 0 outside', () => {
    const step = hwgqFixedStep(2)!;
    const g = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) => hwgqQuantize(x, 2, step))(tf.tensor1d(X))
          .dataSync(),
      ),
    );
    expect(g).toEqual(X.map((x) => (x > 0 && x < Math.fround(3 * step) ? 1 : 0)));
  });

  it('is ReLU at 32 bits', () => {
    const q = new ActivationQuantizer({ bits: 32 });
    expect(q.stepKind).toBe('none');
    expect(Array.from(tf.tidy(() => q.apply(tf.tensor1d(X)).dataSync()))).toEqual(Array.from(Float32Array.from(X, (x) => Math.max(0, x))));
  });

  it('learns the step where none is published (5 bits), initialised to 2·mean(x⁺)/sqrt(31), with LSQ gradients', () => {
    const q = new ActivationQuantizer({ bits: 5 });
    expect(q.stepKind).toBe('learned');
    tf.tidy(() => q.apply(tf.tensor1d(X)));
    const mean = X.reduce((sum, x) => sum + Math.max(0, x), 0) / X.length;
    expect(q.step!.dataSync()[0]).toBeCloseTo((2 * mean) / Math.sqrt(31), 6);
    // A smaller step so that some inputs clip.
    q.step!.assign(tf.scalar(0.05));
    const s = Math.fround(0.05);
    const dy = X.map((_, i) => (i % 3) - 0.7);
    const ds = tf.tidy(() => {
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(q.apply(tf.tensor1d(X)), tf.tensor1d(dy))), [q.step!]);
      value.dispose();
      return Array.from(grads[q.step!.name]!.dataSync());
    });
    const clip = Math.fround(s * 31);
    let expected = 0;
    X.forEach((x, i) => {
      const v = Math.fround(x / s);
      const term = x > 0 && x < clip ? roundHalfEven(v) - v : x >= clip ? 31 : 0;
      expected += dy[i]! * term;
    });
    expect(X.some((x) => x >= clip)).toBe(true);
    expect(ds[0]).toBeCloseTo(expected * lsqGradScale(31, X.length), 6);
    q.dispose();
  });

  it('learns the step for any bits with scheme lsq, and checks a fixed step it is given', () => {
    expect(new ActivationQuantizer({ bits: 4, scheme: 'lsq' }).stepKind).toBe('learned');
    expect(() => new ActivationQuantizer({ bits: 4, initialStep: 0.3 })).toThrow('fixed step');
    expect(() => new ActivationQuantizer({ bits: 16 as never })).toThrow('bit-width 16 is not supported');
  });
});
