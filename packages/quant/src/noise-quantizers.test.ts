import { tf, type ConvSite } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BitWidth } from './bits.js';
import { noiseQuantizers, type NoiseQuantizerOptions, type NoiseRequest } from './noise-quantizers.js';
import { quantNoiseStep, type NoiseGradient, type NoiseKind } from './quant-noise.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const site = (inChannels: number, outChannels: number): ConvSite => ({
  name: 'cell0.body0.conv0',
  shape: { kernelH: 3, kernelW: 3, inChannels, outChannels, groups: 1 },
});
/** Deterministic values in [offset − scale, offset + scale], irregular enough to avoid ties. */
const values = (n: number, scale = 1, offset = 0, phase = 0) =>
  Array.from({ length: n }, (_, i) => offset + scale * Math.sin(1.7 * i + 0.3 + phase) * Math.cos(0.37 * i + phase));
const fixedP = (p: number[]) => () => () => tf.tensor1d(p);
const read = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

describe('quantization noise statistics', () => {
  const cases: [NoiseKind, number, number][] = [
    ['uniform', 1 / 12, 0.04],
    ['gaussian', 1 / 4, 0.05],
  ];
  for (const [noise, unitVariance, tolerance] of cases) {
    it(`has mean ≈ 0 and variance ≈ Δ²·${noise === 'uniform' ? '1/12' : '1/4'} (${noise}) over many seeded draws`, () => {
      const w = values(3 * 3 * 16 * 16);
      const wt = tf.tensor4d(w, [3, 3, 16, 16]);
      const q = noiseQuantizers({ bits: [4], probabilities: fixedP([1]), seed: 11, noise })(site(16, 16));
      // f = 1/2, a = 1 / (1 + 1/2): Ŵ − (f + a)·W = a·Δ·ξ.
      const f = 0.5;
      const a = 1 / 1.5;
      const delta = (Math.max(...w) - Math.min(...w)) / 15;
      expect(read(quantNoiseStep(wt, 4))[0]).toBeCloseTo(delta, 6);
      expect(read(quantNoiseStep(wt, 32))[0]).toBe(0);
      const noiseSamples: number[] = [];
      for (let draw = 0; draw < 10; draw++) {
        const out = read(q.weight(wt, true));
        out.forEach((v, i) => noiseSamples.push((v - (f + a) * Math.fround(w[i]!)) / a));
      }
      wt.dispose();
      const n = noiseSamples.length;
      const mean = noiseSamples.reduce((s, v) => s + v, 0) / n;
      const variance = noiseSamples.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
      const sigma = delta * Math.sqrt(unitVariance);
      expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(n));
      expect(Math.abs(variance / (delta * delta * unitVariance) - 1)).toBeLessThan(tolerance);
      if (noise === 'uniform') expect(Math.max(...noiseSamples.map(Math.abs))).toBeLessThanOrEqual((delta / 2) * (1 + 1e-4));
    });
  }

  it('replays the same sequence for the same seed, and draws fresh noise every step', () => {
    const wt = tf.tensor4d(values(54), [3, 3, 2, 3]);
    const run = (seed: number) => {
      const q = noiseQuantizers({ bits: [4, 8], probabilities: fixedP([0.3, 0.6]), seed })(site(2, 3));
      return [0, 1, 2].map(() => read(q.weight(wt, true)));
    };
    const [a, b, c] = [run(5), run(5), run(6)];
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(c[0]);
    expect(a[0]).not.toEqual(a[1]);
    wt.dispose();
  });
});

describe('quantization noise mixing', () => {
  // B = {2, 4, 32}, in-block p = (0.2, 0.5, 0.1): f = 1/4, a_b = p_b / (0.8 + 1/4).
  const bits: BitWidth[] = [2, 4, 32];
  const p = [0.2, 0.5, 0.1];
  const f = 1 / 4;
  const a = p.map((pb) => Math.fround(pb) / (0.8 + f));
  const xiFor = (r: NoiseRequest) =>
    values(
      r.shape.reduce((s, d) => s * d, 1),
      0.5,
      0,
      r.bits + (r.tensor === 'input' ? 10 : 0) + 100 * r.draw,
    );

  const handMix = (t: number[], draw: number, tensor: 'weight' | 'input') => {
    const range = Math.max(...t) - Math.min(...t);
    return t.map((v, i) => {
      let out = f * v;
      bits.forEach((b, k) => {
        const delta = b === 32 ? 0 : range / (2 ** b - 1);
        const xi = b === 32 ? 0 : xiFor({ site: '', tensor, bits: b, draw, shape: [t.length], seed: 0, kind: 'uniform' })[i]!;
        out += a[k]! * (v + delta * Math.fround(xi));
      });
      return out;
    });
  };

  it('computes f·T + Σ a_b·(T + Δ_b·ξ_b) for weights and for x⁺, with Δ over the whole tensor', () => {
    const requests: NoiseRequest[] = [];
    const q = noiseQuantizers({
      bits,
      probabilities: fixedP(p),
      seed: 1,
      sampleNoise: (r) => {
        requests.push(r);
        return tf.tensor(xiFor(r), [...r.shape]);
      },
    })(site(2, 3));
    const w = values(54).map(Math.fround);
    const x = values(2 * 3 * 3 * 2, 2, 0.5).map(Math.fround);
    const wt = tf.tensor4d(w, [3, 3, 2, 3]);
    const xt = tf.tensor4d(x, [2, 3, 3, 2]);
    for (const draw of [0, 1]) {
      const ow = read(q.weight(wt, true));
      const ox = read(q.input(xt, true));
      handMix(w, draw, 'weight').forEach((v, i) => expect(ow[i]).toBeCloseTo(v, 6));
      handMix(
        x.map((v) => Math.max(0, v)),
        draw,
        'input',
      ).forEach((v, i) => expect(ox[i]).toBeCloseTo(v, 6));
    }
    // 32 bits asks for no noise; draws count per tensor.
    expect(requests.map((r) => [r.tensor, r.bits, r.draw])).toEqual([
      ['weight', 2, 0],
      ['weight', 4, 0],
      ['input', 2, 0],
      ['input', 4, 0],
      ['weight', 2, 1],
      ['weight', 4, 1],
      ['input', 2, 1],
      ['input', 4, 1],
    ]);
    expect(new Set(requests.map((r) => r.seed)).size).toBe(8);
    expect(requests[2]!.shape).toEqual([2, 3, 3, 2]);
    wt.dispose();
    xt.dispose();
  });

  it('is (f + Σ a_b)·T with zero noise, and that expectation is what inference computes', () => {
    const w = values(54).map(Math.fround);
    const wt = tf.tensor4d(w, [3, 3, 2, 3]);
    let calls = 0;
    const zero = noiseQuantizers({ bits, probabilities: fixedP(p), seed: 1, sampleNoise: (r) => tf.zeros([...r.shape]) })(site(2, 3));
    const infer = noiseQuantizers({ bits, probabilities: fixedP(p), seed: 1, sampleNoise: (r) => (calls++, tf.zeros([...r.shape])) })(site(2, 3));
    const scale = f + a.reduce((s, v) => s + v, 0);
    const expected = w.map((v) => scale * v);
    read(zero.weight(wt, true)).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    read(infer.weight(wt, false)).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(calls).toBe(0);
    wt.dispose();
  });

  it('rounds each bit-width on its grid when evaluation is rounded, matching a scalar reference', () => {
    const w = values(54).map(Math.fround);
    const x = values(2 * 3 * 3 * 2, 1, 0.2, 1).map(Math.fround);
    let evaluation: 'expectation' | 'rounded' = 'rounded';
    const q = noiseQuantizers({ bits, probabilities: fixedP(p), seed: 1, evaluation: () => evaluation })(site(2, 3));
    const reference = (t: number[]) => {
      const low = Math.min(...t);
      const high = Math.max(...t);
      return t.map((v) =>
        bits.reduce((sum, b, i) => {
          if (b === 32) return sum + a[i]! * v;
          const step = (high - low) / (2 ** b - 1);
          return sum + a[i]! * (low + step * Math.round((v - low) / step));
        }, f * v),
      );
    };
    const wt = tf.tensor4d(w, [3, 3, 2, 3]);
    const xt = tf.tensor4d(x, [2, 3, 3, 2]);
    const rw = read(q.weight(wt, false));
    reference(w).forEach((v, i) => expect(rw[i]).toBeCloseTo(v, 5));
    const rx = read(q.input(xt, false));
    reference(x.map((v) => Math.max(v, 0))).forEach((v, i) => expect(rx[i]).toBeCloseTo(v, 5));
    // 2 bits moves the weights visibly off the expectation; training forwards are not affected.
    const scale = f + a.reduce((s, v) => s + v, 0);
    expect(Math.max(...rw.map((v, i) => Math.abs(v - scale * w[i]!)))).toBeGreaterThan(0.01);
    evaluation = 'expectation';
    read(q.weight(wt, false)).forEach((v, i) => expect(v).toBeCloseTo(scale * w[i]!, 5));
    evaluation = 'bogus' as 'rounded';
    expect(() => q.weight(wt, false)).toThrow("unknown noise evaluation 'bogus'");
    wt.dispose();
    xt.dispose();
  });

  it('rejects bad bit-widths and mismatched probabilities with clear errors', () => {
    expect(() => noiseQuantizers({ bits: [4, 16 as BitWidth], probabilities: fixedP([1, 1]), seed: 1 })).toThrow('bit-width 16 is not supported');
    expect(() => noiseQuantizers({ bits: [4, 4], probabilities: fixedP([1, 1]), seed: 1 })).toThrow('listed twice');
    const q = noiseQuantizers({ bits: [4, 8], probabilities: fixedP([1]), seed: 1 })(site(2, 3));
    const wt = tf.tensor4d(values(54), [3, 3, 2, 3]);
    expect(() => q.weight(wt, true)).toThrow('expected 2 probabilities');
    wt.dispose();
  });
});

describe('quantization noise gradients', () => {
  const X_SHAPE: [number, number, number, number] = [1, 4, 4, 2];
  const W_SHAPE: [number, number, number, number] = [3, 3, 2, 3];
  const x0 = values(32, 1.5, 0.3, 1).map(Math.fround);
  const w0 = values(54, 0.5, 0, 2).map(Math.fround);
  const r0 = values(48, 1, 0, 3);
  const alpha0 = [0.3, -0.2, 0.5, 0.1];

  /** L = Σ R ⊙ conv(x̂, Ŵ), with a fresh quantizer so that the noise is the same for every call. */
  const loss = (mode: NoiseGradient) => (x: tf.Tensor, w: tf.Tensor, alpha: tf.Tensor) => {
    const options: NoiseQuantizerOptions = {
      bits: [4, 8],
      // Two ops × two bits in one softmax; this conv belongs to op 0.
      probabilities: () => () => tf.slice(tf.softmax(alpha), [0], [2]) as tf.Tensor1D,
      noiseGradient: mode,
      seed: 3,
    };
    const q = noiseQuantizers(options)(site(2, 3));
    const y = tf.conv2d(q.input(x as tf.Tensor4D, true), q.weight(w as tf.Tensor4D, true), 1, 'same');
    return tf.sum(tf.mul(y, tf.tensor4d(r0, [1, 4, 4, 3])));
  };
  const analytic = (mode: NoiseGradient) =>
    tf.tidy(() =>
      tf
        .grads(loss(mode))([tf.tensor4d(x0, X_SHAPE), tf.tensor4d(w0, W_SHAPE), tf.tensor1d(alpha0)])
        .map((g) => Array.from(g.dataSync())),
    );
  const lossAt = (mode: NoiseGradient, x: number[], w: number[], alpha: number[]) =>
    tf.tidy(() => loss(mode)(tf.tensor4d(x, X_SHAPE), tf.tensor4d(w, W_SHAPE), tf.tensor1d(alpha)).dataSync()[0]!);
  const central = (mode: NoiseGradient, which: 0 | 1 | 2, i: number, h = 1e-2) => {
    const args = [x0, w0, alpha0].map((v) => [...v]);
    args[which]![i] += h;
    const up = lossAt(mode, args[0]!, args[1]!, args[2]!);
    args[which]![i] -= 2 * h;
    const down = lossAt(mode, args[0]!, args[1]!, args[2]!);
    return (up - down) / (2 * h);
  };
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(2e-3 * Math.max(1, Math.abs(b)));

  // Entries away from the ReLU kink and not the extremes that set Δ, so the noise stays fixed.
  const interior = (v: number[], h: number) => v.map((x, i) => i).filter((i) => Math.abs(v[i]!) > 3 * h && v[i] !== Math.max(...v) && v[i] !== Math.min(...v));
  const xIdx = interior(x0, 1e-2)
    .filter((_, k) => k % 3 === 0)
    .slice(0, 8);
  const wIdx = interior(w0, 1e-2)
    .filter((_, k) => k % 5 === 0)
    .slice(0, 8);

  it('through: gradients w.r.t. W, x and α match central finite differences', () => {
    const [gx, gw, ga] = analytic('through');
    expect(xIdx.some((i) => x0[i]! < 0)).toBe(true);
    for (const i of xIdx) close(gx![i]!, central('through', 0, i));
    for (const i of wIdx) close(gw![i]!, central('through', 1, i));
    for (let i = 0; i < 4; i++) close(ga![i]!, central('through', 2, i));
  });

  it('detached: α gradients are the same, W and x get only the f· share', () => {
    const [gxT, gwT, gaT] = analytic('through');
    const [gxD, gwD, gaD] = analytic('detached');
    for (let i = 0; i < 4; i++) {
      expect(gaD![i]).toBeCloseTo(gaT![i]!, 5);
      close(gaD![i]!, central('detached', 2, i));
    }
    const e = alpha0.map(Math.exp);
    const z = e.reduce((s, v) => s + v, 0);
    const p = [e[0]! / z, e[1]! / z];
    const f = 1 / 3;
    const share = f / (f + (p[0]! + p[1]!) / (p[0]! + p[1]! + f));
    gwD!.forEach((g, i) => expect(g).toBeCloseTo(gwT![i]! * share, 5));
    gxD!.forEach((g, i) => expect(g).toBeCloseTo(gxT![i]! * share, 5));
    expect(gwD!.some((g) => Math.abs(g) > 1e-2)).toBe(true);
  });
});
