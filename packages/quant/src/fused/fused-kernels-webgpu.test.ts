// The WGSL kernels of the fused quantizers (LSQ, HWGQ fixed and learned) and weighted sum against the same fused kernels on
// the cpu backend: forward values and the gradients to input and step. Runs when an adapter exists;
// QUANTNAS_REQUIRE_WEBGPU=1 (CI) turns a missing adapter into a failure.
import { fusedKernelsAvailable, initBackend, probeWebGpu, tf, type ConvSite } from '@quantnas/core-ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsqGradScale, lsqRange } from '../lsq.js';
import { noiseQuantizers } from '../noise-quantizers.js';
import { fusedHwgq, fusedLsq } from './fake-quant.js';
import { fusedNoiseMix, type NoiseMixAttrs } from './noise-mix.js';
import { fusedWeightedSum, type WeightedSumAttrs } from './weighted-sum.js';

const requireWebGpu = process.env.QUANTNAS_REQUIRE_WEBGPU === '1';
const webgpuProbe = await probeWebGpu({ requireDriver: true });
const webgpuSkipReason = webgpuProbe.found ? undefined : `no WebGPU adapter (${webgpuProbe.reason}); run tools/setup-vulkan.sh and export what it prints`;
if (webgpuSkipReason && !requireWebGpu) console.warn(`[quant] skipping the webgpu fused kernel tests: ${webgpuSkipReason}`);

const values = (n: number, scale = 1, offset = 0, phase = 0) =>
  Float32Array.from({ length: n }, (_, i) => offset + scale * Math.sin(1.7 * i + 0.3 + phase) * Math.cos(0.37 * i + phase));

/** max |a − b| ≤ tol·max(1, max |b|). */
function expectClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  expect(worst, what).toBeLessThanOrEqual(tol * scale);
}

type Kind = 'lsq' | 'hwgq' | 'hwgqLearned';

/** Forward values and gradients (input, and step where learned) of Σ r·q(w). */
async function qat(kind: Kind): Promise<Float32Array[]> {
  const shape = [3, 3, 4, 5];
  const n = 3 * 3 * 4 * 5;
  const w = tf.tensor4d(values(n, 0.5, 0.02), shape as [number, number, number, number]);
  const r = tf.tensor4d(values(n, 1, 0, 2), shape as [number, number, number, number]);
  const s = kind === 'lsq' ? tf.tensor1d([0.05, 0.11, 0.031, 0.2, 0.07]) : tf.tensor1d([0.09]);
  const range = lsqRange(4);
  const g = lsqGradScale(range.qp, n);
  const q = (x: tf.Tensor, st: tf.Tensor) =>
    kind === 'lsq' ? fusedLsq(x, st as tf.Tensor1D, range, g) : kind === 'hwgq' ? fusedHwgq(x, 15, 0.21306) : fusedHwgq(x, 15, st, 0.3);
  const f = (x: tf.Tensor, st: tf.Tensor) => tf.sum(tf.mul(q(x, st), r));
  const y = q(w, s);
  const grads = kind === 'hwgq' ? tf.grads((x: tf.Tensor) => f(x, s))([w]) : tf.grads(f)([w, s]);
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([w, r, s, y, ...grads]);
  return out;
}

/** 7 terms (two shader chunks): the value and the gradients to every term and to α (through p). */
async function weightedSum(weighting: WeightedSumAttrs['weighting']): Promise<Float32Array[]> {
  const m = 7;
  const shape: [number, number, number, number] = [2, 4, 4, 3];
  const ys = Array.from({ length: m }, (_, j) => tf.tensor4d(values(96, 1, 0, j), shape));
  const r = tf.tensor4d(values(96, 1, 0, 9), shape);
  const alpha = tf.tensor1d(values(24, 1, 0, 5));
  const attrs: WeightedSumAttrs =
    weighting === 'opTotal'
      ? { weighting, terms: [0, 1, 3, 4, 6, 7, 2], perOp: 3, offset: 0 }
      : { weighting, terms: [0, 1, 2, 3, 4, 5, 6], perOp: 0, offset: 9 };
  const f = (...args: tf.Tensor[]) => tf.sum(tf.mul(fusedWeightedSum(args.slice(0, m), tf.softmax(args[m]!) as tf.Tensor1D, attrs), r));
  const y = fusedWeightedSum(ys, tf.softmax(alpha) as tf.Tensor1D, attrs);
  const grads = tf.grads(f)([...ys, alpha]);
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...ys, r, alpha, y, ...grads]);
  return out;
}

const noiseCases: (Omit<NoiseMixAttrs, 'seeds' | 'offset'> & { name: string })[] = [
  { name: 'activations 4/8 uniform through', bits: [4, 8], kind: 'uniform', relu: true, through: true, noise: true },
  { name: 'weights 4/8 uniform detached', bits: [4, 8], kind: 'uniform', relu: false, through: false, noise: true },
  { name: 'activations 2/4/8/32 gaussian through', bits: [2, 4, 8, 32], kind: 'gaussian', relu: true, through: true, noise: true },
  { name: 'weights 3/5/8 uniform through', bits: [3, 5, 8], kind: 'uniform', relu: false, through: true, noise: true },
  { name: 'activations 4/8 expectation', bits: [4, 8], kind: 'uniform', relu: true, through: true, noise: false },
  { name: 'activations 32 only', bits: [32], kind: 'uniform', relu: true, through: true, noise: true },
];

/** The mix's values and gradients to t and to α (p = softmax(α), the slice at offset 2). */
async function noiseMix(c: (typeof noiseCases)[number]): Promise<Float32Array[]> {
  const attrs: NoiseMixAttrs = { ...c, offset: 2, seeds: c.bits.map((_, b) => 1000 + 17 * b) };
  const t = tf.tensor4d(values(2 * 5 * 6 * 4, 2, 0.3), [2, 5, 6, 4]);
  const r = tf.tensor4d(values(2 * 5 * 6 * 4, 1, 0, 2), [2, 5, 6, 4]);
  const alpha = tf.tensor1d(values(c.bits.length + 4, 1.5, 0, 0.4));
  const f = (x: tf.Tensor, a: tf.Tensor) => tf.sum(tf.mul(fusedNoiseMix(x, tf.softmax(a) as tf.Tensor1D, attrs), r));
  const y = fusedNoiseMix(t, tf.softmax(alpha) as tf.Tensor1D, attrs);
  const grads = tf.grads(f)([t, alpha]);
  const out = await Promise.all([y, ...grads].map(async (x) => (await x.data()) as Float32Array));
  tf.dispose([t, r, alpha, y, ...grads]);
  return out;
}

const site: ConvSite = { name: 'cell0.body0.conv0', shape: { kernelH: 3, kernelW: 3, inChannels: 4, outChannels: 5, groups: 1 } };

/** A conv's noisy input and weight through the quantizers callers build, and the kernels that ran. */
async function quantizerRun(kernels: 'fused' | 'reference'): Promise<{ out: Float32Array[]; kernelNames: string[] }> {
  const x = tf.tensor4d(values(2 * 5 * 6 * 4, 2, 0.3), [2, 5, 6, 4]);
  const w = tf.tensor4d(values(3 * 3 * 4 * 5, 0.4, 0.01, 1), [3, 3, 4, 5]);
  const p = tf.softmax(tf.tensor1d(values(6, 1.5, 0, 0.4))) as tf.Tensor1D;
  const q = noiseQuantizers({ bits: [4, 8], probabilities: () => () => p, probabilityOffset: 2, seed: 7, noise: 'uniform', kernels })(site);
  let ys: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    ys = [q.input(x, true), q.weight(w, true)];
  });
  const out = await Promise.all(ys.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, w, p, ...ys]);
  return { out, kernelNames: profile.kernelNames };
}

describe('fused quantization kernels on webgpu', () => {
  it('has an adapter when QUANTNAS_REQUIRE_WEBGPU=1', () => {
    if (requireWebGpu) expect(webgpuProbe.found, webgpuSkipReason).toBe(true);
  });

  describe.skipIf(!webgpuProbe.found)(`on ${webgpuProbe.found ? webgpuProbe.adapter.description : 'no adapter'}`, () => {
    const expected = new Map<string, Float32Array[]>();
    let previous: string;
    beforeAll(async () => {
      previous = tf.getBackend();
      await initBackend('cpu');
      for (const kind of ['lsq', 'hwgq', 'hwgqLearned'] as const) expected.set(kind, await qat(kind));
      for (const weighting of ['opTotal', 'normalized'] as const) expected.set(weighting, await weightedSum(weighting));
      for (const c of noiseCases) expected.set(c.name, await noiseMix(c));
      await initBackend('webgpu');
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    for (const kind of ['lsq', 'hwgq', 'hwgqLearned'] as const) {
      it(`${kind}: the WGSL kernels' values and gradients equal the cpu kernels'`, async () => {
        const kernels =
          kind === 'lsq'
            ? ['QnasLsq', 'QnasLsqGradInput', 'QnasLsqGradStep']
            : kind === 'hwgq'
              ? ['QnasHwgq', 'QnasHwgqGrad']
              : ['QnasHwgqLearned', 'QnasHwgqLearnedGradInput', 'QnasHwgqLearnedGradStep'];
        const got = await qat(kind);
        for (const k of kernels) expect(tf.getKernel(k, 'webgpu'), k).toBeDefined();
        const want = expected.get(kind)!;
        expect(got).toHaveLength(want.length);
        expectClose(got[0]!, want[0]!, 1e-6, 'values');
        got.slice(1).forEach((g, i) => expectClose(g, want[i + 1]!, 1e-5, `gradient ${i}`));
        // Not trivially zero.
        for (const g of want.slice(1)) expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
      });
    }

    it('callers take the fused path: every fused kernel has a WGSL implementation', async () => {
      expect(fusedKernelsAvailable()).toBe(true);
      const fused = await quantizerRun('fused');
      const reference = await quantizerRun('reference');
      expect(fused.kernelNames).toContain('QnasNoiseMix');
      expect(reference.kernelNames).not.toContain('QnasNoiseMix');
      fused.out.forEach((y, i) => expectClose(y, reference.out[i]!, 2e-6, `output ${i}`));
    });

    for (const c of noiseCases) {
      it(`noise mix (${c.name}): the WGSL kernels' values (the same ξ) and gradients to t and α equal the cpu kernels'`, async () => {
        const got = await noiseMix(c);
        for (const k of ['QnasNoiseMix', 'QnasNoiseMixGradInput', 'QnasNoiseMixGradProb']) expect(tf.getKernel(k, 'webgpu'), k).toBeDefined();
        const want = expected.get(c.name)!;
        expect(got).toHaveLength(3);
        expectClose(got[0]!, want[0]!, c.kind === 'gaussian' ? 1e-5 : 1e-6, 'values');
        got.slice(1).forEach((g, i) => expectClose(g, want[i + 1]!, 1e-5, `gradient ${i}`));
        expect(Math.max(...want[2]!.map(Math.abs))).toBeGreaterThan(1e-4);
      });
    }

    for (const weighting of ['opTotal', 'normalized'] as const) {
      it(`weighted sum (${weighting}, 7 terms): the WGSL kernels' values and gradients to every term and to α equal the cpu kernels'`, async () => {
        const got = await weightedSum(weighting);
        for (const k of ['QnasWeightedSum', 'QnasWeightedSumGradTerm', 'QnasWeightedSumGradProb']) expect(tf.getKernel(k, 'webgpu'), k).toBeDefined();
        const want = expected.get(weighting)!;
        expect(got).toHaveLength(9);
        expectClose(got[0]!, want[0]!, 1e-6, 'values');
        got.slice(1).forEach((g, i) => expectClose(g, want[i + 1]!, 1e-5, `gradient ${i}`));
        expect(Math.max(...want[8]!.map(Math.abs))).toBeGreaterThan(1e-4);
      });
    }
  });
});
