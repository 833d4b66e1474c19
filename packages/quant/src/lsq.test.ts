import { tf } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { roundHalfEven } from './integer.js';
import { lsqGradScale, lsqQuantize, lsqRange } from './lsq.js';
import { LsqWeightQuantizer } from './lsq-weight-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// A [1, 2, 2, 3] weight: 4 values per output channel, spread well past the 4-bit clip.
const W = [0.3, -0.12, 0.05, -0.9, 0.2, 0.01, 0.07, -0.02, 0.4, 1.5, 0.33, -0.25];
const SHAPE: [number, number, number, number] = [1, 2, 2, 3];
const channel = (values: ArrayLike<number>, c: number) => Array.from(values).filter((_, i) => i % 3 === c);

describe('lsqRange', () => {
  it('gives the signed and symmetric integer ranges', () => {
    expect(lsqRange(2)).toEqual({ qn: 2, qp: 1 });
    expect(lsqRange(4)).toEqual({ qn: 8, qp: 7 });
    expect(lsqRange(8, 'lsq-symmetric')).toEqual({ qn: 127, qp: 127 });
    expect(lsqRange(2, 'lsq-symmetric')).toEqual({ qn: 1, qp: 1 });
  });

  it('rejects bit-widths without an integer range, naming the value', () => {
    expect(() => lsqRange(32)).toThrow('got 32');
    expect(() => lsqRange(9)).toThrow('bit-width 9 is not supported');
    expect(() => new LsqWeightQuantizer({ bits: 1 as never, outChannels: 3 })).toThrow('bit-width 1 is not supported');
  });
});

describe('LsqWeightQuantizer', () => {
  it('initialises each channel step to 2·mean|W_c| / sqrt(2^(b−1) − 1) on the first forward', () => {
    const q = new LsqWeightQuantizer({ bits: 4, outChannels: 3 });
    tf.tidy(() => q.apply(tf.tensor4d(W, SHAPE)));
    const steps = Array.from(q.step!.dataSync());
    for (let c = 0; c < 3; c++) {
      const meanAbs = channel(W, c).reduce((s, v) => s + Math.abs(v), 0) / 4;
      expect(steps[c]).toBeCloseTo((2 * meanAbs) / Math.sqrt(7), 6);
    }
    q.dispose();
  });

  it('keeps steps restored before the first forward', () => {
    const q = new LsqWeightQuantizer({ bits: 4, outChannels: 3 });
    q.step!.assign(tf.tensor1d([0.1, 0.2, 0.3]));
    tf.tidy(() => q.apply(tf.tensor4d(W, SHAPE)));
    expect(Array.from(q.step!.dataSync())).toEqual(Array.from(Float32Array.from([0.1, 0.2, 0.3])));
    q.dispose();
  });

  for (const scheme of ['lsq', 'lsq-symmetric'] as const) {
    it(`puts ${scheme} outputs on the integer grid × step, within range, saturating at both ends`, () => {
      const steps = [0.05, 0.01, 0.07];
      const q = new LsqWeightQuantizer({ bits: 3, scheme, outChannels: 3, initialSteps: steps });
      const out = tf.tidy(() => q.apply(tf.tensor4d(W, SHAPE)).dataSync());
      const { qn, qp } = lsqRange(3, scheme);
      const codes = Array.from(out, (v, i) => v / Math.fround(steps[i % 3]!));
      for (const k of codes) {
        expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-5);
        expect(Math.round(k)).toBeGreaterThanOrEqual(-qn);
        expect(Math.round(k)).toBeLessThanOrEqual(qp);
      }
      expect(Math.round(Math.min(...codes))).toBe(-qn);
      expect(Math.round(Math.max(...codes))).toBe(qp);
      q.dispose();
    });
  }

  it('passes the weight through at 32 bits, with no variables', () => {
    const q = new LsqWeightQuantizer({ bits: 32, outChannels: 3 });
    expect(q.step).toBeNull();
    expect(Array.from(tf.tidy(() => q.apply(tf.tensor4d(W, SHAPE)).dataSync()))).toEqual(Array.from(Float32Array.from(W)));
  });
});

describe('lsqQuantize gradients', () => {
  it('are exactly LSQ: dŵ/dw the in-range mask, dŵ/ds = g·(round(v) − v | −qn | qp)', () => {
    const steps = [0.05, 0.02, 0.1];
    const dy = W.map((_, i) => ((i * 7) % 5) - 2 + 0.5);
    const range = lsqRange(4);
    const g = lsqGradScale(range.qp, W.length);
    expect(g).toBeCloseTo(1 / Math.sqrt(7 * 12), 12);
    const [dw, ds] = tf.tidy(() => {
      const grads = tf.grads((w: tf.Tensor, s: tf.Tensor) => lsqQuantize(w, s as tf.Tensor1D, range, g))(
        [tf.tensor4d(W, SHAPE), tf.tensor1d(steps)],
        tf.tensor4d(dy, SHAPE),
      );
      return grads.map((t) => Array.from(t.dataSync()));
    });
    const expectedDs = [0, 0, 0];
    W.forEach((w, i) => {
      const s = Math.fround(steps[i % 3]!);
      const v = Math.fround(Math.fround(w) / s);
      const inside = v > -range.qn && v < range.qp;
      expect(dw![i]! + 0).toBe(inside ? Math.fround(dy[i]!) : 0);
      const term = inside ? roundHalfEven(v) - v : v <= -range.qn ? -range.qn : range.qp;
      expectedDs[i % 3]! += dy[i]! * term * g;
    });
    // Both clip cases, and a tie that rounds to even (0.05/0.1 = 0.5 → 0), occur in the data.
    expect(dw!.filter((d) => d === 0).length).toBeGreaterThanOrEqual(2);
    ds!.forEach((d, c) => expect(d).toBeCloseTo(expectedDs[c]!, 6));
  });
});
