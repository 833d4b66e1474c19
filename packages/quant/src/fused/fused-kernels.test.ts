// Every fused kernel against the composed reference path it replaces: forward values and the
// gradients to every input, on each backend that runs fused kernels (cpu and wasm).
import { initBackend, tf, type ConvSite } from '@quantnas/core-ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BitWidth } from '../bits.js';
import { hwgqQuantize } from '../hwgq.js';
import { lsqGradScale, lsqQuantize, lsqRange } from '../lsq.js';
import { noiseQuantizers } from '../noise-quantizers.js';
import type { NoiseGradient, NoiseKind } from '../quant-noise.js';
import type { QuantKernels } from '../quant-kernels.js';
import { fusedKernelsAvailable } from '@quantnas/core-ops';
import { fusedSimdActive } from './simd.js';
import { fusedHwgq, fusedLsq } from './fake-quant.js';
import { fillUnitNoise } from './unit-noise.js';
import { fusedWeightedSum } from './weighted-sum.js';

const values = (n: number, scale = 1, offset = 0, phase = 0) =>
  Float32Array.from({ length: n }, (_, i) => offset + scale * Math.sin(1.7 * i + 0.3 + phase) * Math.cos(0.37 * i + phase));

/** max |a − b| ≤ tol·max(1, max |b|). */
function expectClose(a: Float32Array | number[], b: Float32Array | number[], tol: number): void {
  expect(a.length).toBe(b.length);
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tol * scale);
}

const site: ConvSite = { name: 'cell0.body0.conv0', shape: { kernelH: 3, kernelW: 3, inChannels: 4, outChannels: 5, groups: 1 } };

interface NoiseCase {
  bits: BitWidth[];
  noise: NoiseKind;
  gradient: NoiseGradient;
  training: boolean;
  /** Ops before this conv's in the α vector: its probabilities start at offset·|B|. */
  opIndex: number;
}

const noiseCases: NoiseCase[] = [
  { bits: [4, 8], noise: 'uniform', gradient: 'through', training: true, opIndex: 1 },
  { bits: [4, 8], noise: 'uniform', gradient: 'detached', training: true, opIndex: 0 },
  { bits: [2, 4, 8, 32], noise: 'gaussian', gradient: 'through', training: true, opIndex: 2 },
  { bits: [8], noise: 'uniform', gradient: 'through', training: true, opIndex: 0 },
  { bits: [3, 5, 8], noise: 'uniform', gradient: 'through', training: true, opIndex: 1 },
  { bits: [4, 8], noise: 'uniform', gradient: 'through', training: false, opIndex: 1 },
  { bits: [32], noise: 'uniform', gradient: 'through', training: true, opIndex: 0 },
];

/** One conv's input and weight mixes and the gradients of a random projection of them. */
function noiseRun(kernels: QuantKernels, c: NoiseCase) {
  const n = c.bits.length;
  const ops = 3;
  return tf.tidy(() => {
    const alpha = tf.tensor1d(values(ops * n, 1.5, 0, 0.4));
    const x = tf.tensor4d(values(2 * 5 * 6 * 4, 2, 0.3), [2, 5, 6, 4]);
    const w = tf.tensor4d(values(3 * 3 * 4 * 5, 0.4, 0.01, 1), [3, 3, 4, 5]);
    const rx = tf.tensor4d(values(2 * 5 * 6 * 4, 1, 0, 2), [2, 5, 6, 4]);
    const rw = tf.tensor4d(values(3 * 3 * 4 * 5, 1, 0, 3), [3, 3, 4, 5]);
    let current: tf.Tensor1D | null = null;
    const q = noiseQuantizers({
      bits: c.bits,
      probabilities: () => () => current!,
      probabilityOffset: c.opIndex * n,
      seed: 7,
      noise: c.noise,
      noiseGradient: c.gradient,
      kernels,
    })(site);
    const f = (xv: tf.Tensor, wv: tf.Tensor, a: tf.Tensor) => {
      current = tf.softmax(a) as tf.Tensor1D;
      const xq = q.input(xv as tf.Tensor4D, c.training);
      const wq = q.weight(wv as tf.Tensor4D, c.training);
      return tf.add(tf.sum(tf.mul(xq, rx)), tf.sum(tf.mul(wq, rw)));
    };
    const { value, grads } = tf.valueAndGrads(f)([x, w, alpha]);
    current = tf.softmax(alpha) as tf.Tensor1D;
    const xq = q.input(x, c.training);
    return { value: value.dataSync()[0]!, xq: xq.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

function qatRun(fused: boolean, kind: 'lsq' | 'hwgq' | 'hwgqLearned') {
  return tf.tidy(() => {
    const w = tf.tensor4d(values(3 * 3 * 4 * 5, 0.5, 0.02), [3, 3, 4, 5]);
    const r = tf.tensor4d(values(3 * 3 * 4 * 5, 1, 0, 2), [3, 3, 4, 5]);
    const steps = tf.tensor1d([0.05, 0.11, 0.031, 0.2, 0.07]);
    const aStep = tf.scalar(0.09);
    const range = lsqRange(4);
    const g = lsqGradScale(range.qp, w.size);
    const f = (x: tf.Tensor, s: tf.Tensor) => {
      if (kind === 'lsq') {
        const y = fused ? fusedLsq(x, s as tf.Tensor1D, range, g) : lsqQuantize(x, s as tf.Tensor1D, range, g);
        return tf.sum(tf.mul(y, r));
      }
      const y =
        kind === 'hwgq' ? (fused ? fusedHwgq(x, 15, 0.21306) : hwgqQuantize(x, 4, 0.21306)) : fused ? fusedHwgq(x, 15, s, 0.3) : hwgqQuantize(x, 4, s, 0.3);
      return tf.sum(tf.mul(y, r));
    };
    const s = kind === 'lsq' ? steps : aStep;
    const y = kind === 'lsq' ? (fused ? fusedLsq(w, steps, range, g) : lsqQuantize(w, steps, range, g)) : f(w, s);
    // A fixed step is a constant: only the input has a gradient.
    const { grads } = kind === 'hwgq' ? tf.valueAndGrads((x: tf.Tensor) => f(x, s))([w]) : tf.valueAndGrads(f)([w, s]);
    return { y: y.dataSync() as Float32Array, grads: grads.map((t) => t.dataSync() as Float32Array) };
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused quantization kernels on ${backend}`, () => {
    let previous: string;
    beforeAll(async () => {
      previous = tf.getBackend();
      await initBackend(backend);
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    it(`run on this backend${backend === 'wasm' ? ', with their SIMD loops' : ''}`, () => {
      expect(fusedKernelsAvailable()).toBe(true);
      expect(fusedSimdActive()).toBe(backend === 'wasm');
    });

    for (const c of noiseCases) {
      it(`noise mix ${c.bits.join('/')} ${c.noise} ${c.gradient} ${c.training ? 'training' : 'expectation'}: values and gradients to x, W and α match the composed ops`, () => {
        const fused = noiseRun('fused', c);
        const reference = noiseRun('reference', c);
        expectClose(fused.xq, reference.xq, 2e-6);
        expect(Math.abs(fused.value - reference.value)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(reference.value)));
        fused.grads.forEach((g, i) => expectClose(g, reference.grads[i]!, 1e-5));
        // The α gradient is not trivially zero (a test that could not fail otherwise).
        expect(Math.max(...reference.grads[2]!.map(Math.abs))).toBeGreaterThan(1e-4);
      });
    }

    it('noise: fresh per draw, replayed per seed, and equal to the materialised ξ', () => {
      const x = tf.tensor4d(values(2 * 3 * 3 * 4, 1), [2, 3, 3, 4]);
      const make = () => noiseQuantizers({ bits: [4], probabilities: () => () => tf.tensor1d([1]), seed: 3 })(site);
      const a = make();
      const first = a.input(x, true).dataSync();
      const second = a.input(x, true).dataSync();
      const replay = make().input(x, true).dataSync();
      expect(Array.from(first)).toEqual(Array.from(replay));
      expect(Array.from(first)).not.toEqual(Array.from(second));
      tf.dispose(x);
      // ξ is a hash of (seed, index): uniform on (−1/2, 1/2), mean 0, variance 1/12.
      const xi = fillUnitNoise(new Float32Array(200_000), 12345, 'uniform');
      const mean = xi.reduce((s, v) => s + v, 0) / xi.length;
      const variance = xi.reduce((s, v) => s + v * v, 0) / xi.length - mean * mean;
      expect(Math.abs(mean)).toBeLessThan(0.003);
      expect(Math.abs(variance * 12 - 1)).toBeLessThan(0.01);
      expect(xi.every((v) => Math.abs(v) < 0.5)).toBe(true);
    });

    for (const weighting of ['opTotal', 'normalized'] as const) {
      it(`weighted sum (${weighting}): values and gradients to every term and to p match the composed ops`, () => {
        const result = (fused: boolean) =>
          tf.tidy(() => {
            const ys = [0, 1, 2].map((j) => tf.tensor4d(values(2 * 4 * 4 * 3, 1, 0, j), [2, 4, 4, 3]));
            const r = tf.tensor4d(values(2 * 4 * 4 * 3, 1, 0, 7), [2, 4, 4, 3]);
            const alpha = tf.tensor1d(values(8, 1, 0, 5));
            const terms = weighting === 'opTotal' ? [0, 1, 3] : [0, 1, 2];
            const f = (...args: tf.Tensor[]) => {
              const p = tf.softmax(args[3]!) as tf.Tensor1D;
              const inputs = args.slice(0, 3);
              let y: tf.Tensor;
              if (fused) y = fusedWeightedSum(inputs, p, { weighting, terms, perOp: 2, offset: 4 });
              else if (weighting === 'opTotal') y = tf.addN(inputs.map((t, j) => tf.mul(t, tf.sum(tf.slice(p, [terms[j]! * 2], [2])))));
              else {
                const s = tf.slice(p, [4], [3]);
                const wts = tf.unstack(tf.div(s, tf.sum(s)));
                y = tf.addN(inputs.map((t, j) => tf.mul(t, wts[j]!)));
              }
              return tf.sum(tf.mul(y, r));
            };
            const { value, grads } = tf.valueAndGrads(f)([...ys, alpha]);
            return { value: value.dataSync()[0]!, grads: grads.map((g) => g.dataSync() as Float32Array) };
          });
        const fused = result(true);
        const reference = result(false);
        expect(fused.value).toBeCloseTo(reference.value, 4);
        fused.grads.forEach((g, i) => expectClose(g, reference.grads[i]!, 1e-5));
      });
    }

    for (const kind of ['lsq', 'hwgq', 'hwgqLearned'] as const) {
      it(`${kind}: values bit-identical to the composed ops, gradients to input and step equal`, () => {
        const fused = qatRun(true, kind);
        const reference = qatRun(false, kind);
        expect(Array.from(fused.y)).toEqual(Array.from(reference.y));
        fused.grads.forEach((g, i) => expectClose(g, reference.grads[i]!, 1e-5));
        expect(Math.max(...reference.grads[0]!.map(Math.abs))).toBeGreaterThan(0);
      });
    }

    it('rejects probabilities outside the vector with a clear error', () => {
      const q = noiseQuantizers({ bits: [4, 8], probabilities: () => () => tf.tensor1d([0.5, 0.5, 0.2]), probabilityOffset: 2, seed: 1 })(site);
      const x = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
      expect(() => q.input(x, true)).toThrow(/expected 2 probabilities from index 2/);
      x.dispose();
    });
  });
}
