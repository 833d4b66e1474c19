import { checkGradients, createPrimitive, plainQuantizers, seededUniform, tf, variableFrom, type ForwardContext, type Module } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADQ_OPTIONS, type AdqOptions } from './adq-options.js';
import { createAdqUnit } from './adq-unit.js';
import { perSampleDeviationTensor } from './deviation-op.js';
import { perSampleDeviation } from './deviation.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TRAIN: ForwardContext = { training: true };
const EVAL: ForwardContext = { training: false };

/** A smooth per-channel body tanh(x·w + b): finite differences never meet a kink. */
function smoothBody(name: string, channels: number): Module & { w: tf.Variable; b: tf.Variable } {
  const w = variableFrom(tf.tensor1d(seededUniform(1, `${name}.w`, channels, 0.5, 1.5)), true);
  const b = variableFrom(tf.tensor1d(seededUniform(1, `${name}.b`, channels, -0.2, 0.2)), true);
  return {
    w,
    b,
    apply: (x) => tf.tidy(() => tf.tanh(tf.add(tf.mul(x, w), b)) as tf.Tensor4D),
    variables: () =>
      new Map([
        [`${name}.w`, w],
        [`${name}.b`, b],
      ]),
    dispose: () => tf.dispose([w, b]),
  };
}

function input(seed: number, shape: [number, number, number, number], offset = 0.3): tf.Tensor4D {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(
    seededUniform(seed, 'x', size, -1, 1).map((v, i) => v * (1 + (i % 3)) + offset),
    shape,
  );
}

/** out = F(BN(x))·(a·σ + c) + x in float64, BN with batch (training) or running statistics. */
async function reference(x: tf.Tensor4D, body: ReturnType<typeof smoothBody>, a: number, c: number, training: boolean, correction: 0 | 1) {
  const data = Float64Array.from(await x.data());
  const [n, , , ch] = x.shape;
  const per = data.length / n;
  const w = await body.w.data();
  const b = await body.b.data();
  const count = data.length / ch;
  const mean = new Float64Array(ch);
  const variance = new Float64Array(ch).fill(1);
  if (training) {
    variance.fill(0);
    data.forEach((v, i) => (mean[i % ch] += v / count));
    data.forEach((v, i) => (variance[i % ch] += (v - mean[i % ch]!) ** 2 / count));
  }
  const sigma = perSampleDeviation(data, n, correction);
  return data.map((v, i) => {
    const k = i % ch;
    const normalised = (v - mean[k]!) / Math.sqrt(variance[k]! + 1e-5);
    return Math.tanh(normalised * w[k]! + b[k]!) * (a * sigma[Math.floor(i / per)]! + c) + v;
  });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

describe('perSampleDeviationTensor', () => {
  it.each([0, 1] as const)('matches the float64 reference (correction %i), also on a large offset', async (correction) => {
    for (const offset of [0, 1000]) {
      const x = input(2, [3, 4, 5, 2], offset);
      const sigma = perSampleDeviationTensor(x, correction);
      expect(sigma.shape).toEqual([3, 1, 1, 1]);
      const ref = perSampleDeviation(Float64Array.from(await x.data()), 3, correction);
      expect(maxAbsDiff(await sigma.data(), ref) / Math.max(...ref)).toBeLessThan(offset ? 1e-4 : 1e-6);
      tf.dispose([x, sigma]);
    }
  });

  it('has a correct gradient, and a finite one for constant samples', async () => {
    const x = variableFrom(input(3, [2, 3, 3, 2]), true);
    const report = await checkGradients(() => perSampleDeviationTensor(x as unknown as tf.Tensor4D, 1), new Map([['x', x]]));
    expect(report.maxError).toBeLessThan(1e-2);
    const gradOf = tf.grad((t: tf.Tensor) => tf.sum(perSampleDeviationTensor(t as tf.Tensor4D, 1)));
    // σ = 0 exactly: the gradient is 0, where sqrt'(0) would give NaN.
    const zeros = tf.zeros([2, 3, 3, 2]);
    const g0 = gradOf(zeros);
    expect(Array.from(await g0.data()).every((v) => v === 0)).toBe(true);
    // A constant whose float32 mean is inexact leaves σ ≈ 1e-8; the gradient stays bounded, its
    // norm per sample being 1/√(n − 1) whenever σ > 0.
    const flat = tf.fill([2, 3, 3, 2], 0.7);
    const gFlat = gradOf(flat);
    const g = Array.from(await gFlat.data());
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Math.hypot(...g.slice(0, 18))).toBeLessThanOrEqual(1 / Math.sqrt(17) + 1e-6);
    tf.dispose([x, zeros, g0, flat, gFlat]);
  });

  it('rejects a sample too small to have a deviation', () => {
    const x = tf.zeros([2, 1, 1, 1]) as tf.Tensor4D;
    expect(() => perSampleDeviationTensor(x, 1)).toThrow('a sample of 1 value(s) has no deviation');
    x.dispose();
  });
});

describe('createAdqUnit', () => {
  const options = (over: Partial<AdqOptions> = {}): AdqOptions => ({ ...DEFAULT_ADQ_OPTIONS, ...over });

  it.each([
    ['training', TRAIN, 1],
    ['inference', EVAL, 1],
    ['training, population σ', TRAIN, 0],
  ] as const)('ADQ on computes F(BN(x))·(a·σ(x) + c) + x (%s)', async (_, ctx, correction) => {
    const body = smoothBody('u.body', 3);
    const unit = createAdqUnit({ name: 'u', body, channels: 3, options: options({ sigmaCorrection: correction }) });
    unit.slope!.assign(tf.scalar(1.3));
    unit.offset!.assign(tf.scalar(0.2));
    const x = input(4, [2, 4, 3, 3]);
    const expected = await reference(x, body, 1.3, 0.2, ctx.training, correction);
    const y = unit.apply(x, ctx);
    expect(y.shape).toEqual(x.shape);
    expect(maxAbsDiff(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    unit.dispose();
  });

  it('ADQ off is a plain residual F(x) + x with no variables of its own', async () => {
    const body = smoothBody('u.body', 3);
    const unit = createAdqUnit({ name: 'u', body, channels: 3, options: options({ enabled: false }) });
    expect([unit.bn, unit.slope, unit.offset]).toEqual([null, null, null]);
    expect([...unit.variables().keys()]).toEqual(['u.body.w', 'u.body.b']);
    const x = input(5, [2, 3, 3, 3]);
    const y = unit.apply(x, TRAIN);
    const fx = body.apply(x, TRAIN);
    expect(maxAbsDiff(await y.data(), await tf.add(fx, x).data())).toBeLessThan(1e-6);
    tf.dispose([x, y, fx]);
    unit.dispose();
  });

  it('starts from a = 1.5, c = 0 and names its variables by dotted path', async () => {
    const unit = createAdqUnit({ name: 'cell0', body: smoothBody('cell0.body', 4), channels: 4, options: DEFAULT_ADQ_OPTIONS });
    expect(await unit.slope!.data()).toEqual(Float32Array.from([1.5]));
    expect(await unit.offset!.data()).toEqual(Float32Array.from([0]));
    expect([...unit.variables().keys()]).toEqual([
      'cell0.body.w',
      'cell0.body.b',
      'cell0.bn.gamma',
      'cell0.bn.beta',
      'cell0.bn.runningMean',
      'cell0.bn.runningVar',
      'cell0.phi.slope',
      'cell0.phi.offset',
    ]);
    unit.dispose();
  });

  it.each([
    ['ADQ on, training', true, TRAIN],
    ['ADQ on, inference', true, EVAL],
    ['ADQ off', false, TRAIN],
  ] as const)('%s: gradients for the input and every trainable variable match finite differences', async (_, enabled, ctx) => {
    const unit = createAdqUnit({ name: 'u', body: smoothBody('u.body', 3), channels: 3, options: options({ enabled }) });
    if (unit.bn) {
      unit.bn.runningMean.assign(tf.tensor1d([0.2, -0.1, 0.3]));
      unit.bn.runningVar.assign(tf.tensor1d([0.8, 1.7, 0.5]));
    }
    const x = variableFrom(input(6, [2, 3, 3, 3]), true);
    const report = await checkGradients(() => unit.apply(x as unknown as tf.Tensor4D, ctx), new Map([['x', x], ...unit.variables()]));
    expect(report.tensors.map((t) => t.name)).toEqual(
      enabled ? ['x', 'u.body.w', 'u.body.b', 'u.bn.gamma', 'u.bn.beta', 'u.phi.slope', 'u.phi.offset'] : ['x', 'u.body.w', 'u.body.b'],
    );
    expect(report.maxError, report.worst).toBeLessThan(1e-2);
    x.dispose();
    unit.dispose();
  });

  it('wraps a conv op from core-ops and updates its batch-norm statistics only in training', async () => {
    const body = createPrimitive('growth1_3x3', { name: 'u.body', inChannels: 4, outChannels: 4, width: 6, quantizers: plainQuantizers, seed: 1 });
    const unit = createAdqUnit({ name: 'u', body, channels: 4, options: DEFAULT_ADQ_OPTIONS });
    const x = input(7, [2, 5, 5, 4]);
    tf.dispose(unit.apply(x, EVAL));
    expect(Array.from(await unit.bn!.runningMean.data())).toEqual([0, 0, 0, 0]);
    const y = unit.apply(x, TRAIN);
    expect(y.shape).toEqual([2, 5, 5, 4]);
    expect(Array.from(await unit.bn!.runningMean.data()).some((v) => v !== 0)).toBe(true);
    tf.dispose([x, y]);
    unit.dispose();
  });

  it('leaves no tensors behind over repeated steps, and dispose frees the body too', () => {
    const before = tf.memory().numTensors;
    const unit = createAdqUnit({ name: 'u', body: smoothBody('u.body', 3), channels: 3, options: DEFAULT_ADQ_OPTIONS });
    const x = input(8, [2, 3, 3, 3]);
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(unit.apply(x, i % 2 ? EVAL : TRAIN))) as tf.Scalar);
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    x.dispose();
    unit.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects wrong channels, a body that changes the shape, and clashing variable names', () => {
    const unit = createAdqUnit({ name: 'u', body: smoothBody('u.body', 3), channels: 3, options: DEFAULT_ADQ_OPTIONS });
    const wrong = tf.zeros([1, 3, 3, 2]) as tf.Tensor4D;
    expect(() => unit.apply(wrong, TRAIN)).toThrow("ADQ unit 'u': expected 3 input channels, got shape [1, 3, 3, 2]");
    unit.dispose();
    const narrowing = createPrimitive('simple_1x1', { name: 'v.body', inChannels: 3, outChannels: 2, width: 3, quantizers: plainQuantizers, seed: 1 });
    const bad = createAdqUnit({ name: 'v', body: narrowing, channels: 3, options: DEFAULT_ADQ_OPTIONS });
    const x = tf.ones([1, 3, 3, 3]) as tf.Tensor4D;
    expect(() => bad.apply(x, TRAIN)).toThrow("ADQ unit 'v': the body maps [1, 3, 3, 3] to [1, 3, 3, 2]; a residual needs the same shape");
    bad.dispose();
    const clash = smoothBody('w.bn', 3);
    const renamed: Module = { ...clash, variables: () => new Map([['w.bn.gamma', clash.w]]) };
    expect(() => createAdqUnit({ name: 'w', body: renamed, channels: 3, options: DEFAULT_ADQ_OPTIONS })).toThrow("two variables are named 'w.bn.gamma'");
    clash.dispose();
    expect(() => createAdqUnit({ name: 'z', body: renamed, channels: 0, options: DEFAULT_ADQ_OPTIONS })).toThrow('channels must be a positive integer, got 0');
    tf.dispose([wrong, x]);
  });
});
