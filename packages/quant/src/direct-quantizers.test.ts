import { tf, type ConvSite } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivationQuantizer } from './activation-quantizer.js';
import type { BitWidth } from './bits.js';
import { directQuantizers } from './direct-quantizers.js';
import { LsqWeightQuantizer } from './lsq-weight-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const site: ConvSite = { name: 'up.conv0', shape: { kernelH: 3, kernelW: 3, inChannels: 2, outChannels: 3, groups: 1 } };
const values = (n: number, scale = 1, offset = 0) => Array.from({ length: n }, (_, i) => offset + scale * Math.sin(1.3 * i + 0.2) * Math.cos(0.29 * i));
const W = values(54, 0.5);
const X = values(32, 1.5, 0.4);

describe('directQuantizers', () => {
  it('mixes LSQ_b(W) and HWGQ_b(x) with weights p_b / Σp', () => {
    const bits: BitWidth[] = [4, 8];
    const p = [0.3, 0.1];
    const q = directQuantizers({ bits, probabilities: () => () => tf.tensor1d(p) })(site);
    const wt = tf.tensor4d(W, [3, 3, 2, 3]);
    const xt = tf.tensor4d(X, [1, 4, 4, 2]);
    const [ow, ox] = tf.tidy(() => [q.weight(wt, true), q.input(xt, true)].map((t) => Array.from(t.dataSync())));
    const lsq = bits.map((b) => new LsqWeightQuantizer({ bits: b, outChannels: 3 }));
    const hwgq = bits.map((b) => new ActivationQuantizer({ bits: b }));
    const lw = lsq.map((l) => tf.tidy(() => Array.from(l.apply(wt).dataSync())));
    const hx = hwgq.map((h) => tf.tidy(() => Array.from(h.apply(xt).dataSync())));
    ow!.forEach((v, i) => expect(v).toBeCloseTo(0.75 * lw[0]![i]! + 0.25 * lw[1]![i]!, 6));
    ox!.forEach((v, i) => expect(v).toBeCloseTo(0.75 * hx[0]![i]! + 0.25 * hx[1]![i]!, 6));
    [...lsq, ...hwgq, q].forEach((m) => m.dispose());
    wt.dispose();
    xt.dispose();
  });

  it('trains one LSQ step set per bit-width: gradients reach every step and α', () => {
    const alpha = tf.variable(tf.tensor1d([0.2, -0.1, 0.4]));
    const q = directQuantizers({ bits: [4, 6, 32], probabilities: () => () => tf.softmax(alpha) as tf.Tensor1D })(site);
    expect([...q.variables().keys()].sort()).toEqual(['astep6', 'wstep4', 'wstep6']);
    const wt = tf.tensor4d(W, [3, 3, 2, 3]);
    const xt = tf.tensor4d(X, [1, 4, 4, 2]);
    const r = tf.tensor4d(values(48), [1, 4, 4, 3]);
    const vars = [...q.variables().values(), alpha];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.conv2d(q.input(xt, true), q.weight(wt, true), 1, 'same'), r)) as tf.Scalar, vars);
    for (const v of vars) {
      const g = Array.from(grads[v.name]!.dataSync());
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g.some((x) => Math.abs(x) > 1e-6)).toBe(true);
    }
    tf.dispose([value, wt, xt, r, alpha, ...Object.values(grads)]);
    q.dispose();
  });

  it('rejects bad bit-widths naming the value', () => {
    expect(() => directQuantizers({ bits: [1 as BitWidth], probabilities: () => () => tf.tensor1d([1]) })).toThrow('bit-width 1 is not supported');
  });
});
