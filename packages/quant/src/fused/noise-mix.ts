import { tf } from '@quantnas/core-ops';
import type { NoiseKind } from '../quant-noise.js';
import { registerFusedGradient, registerFusedKernel, runFused, type FusedKernel } from '@quantnas/core-ops';
import { simdKernels, type SimdKernels } from './simd.js';
import { gaussianAt, noiseKey, uniformAt } from './unit-noise.js';
import type { NoiseMixAttrs } from './noise-mix-attrs.js';
import { noiseMixGradInputWebGpu, noiseMixGradProbWebGpu, noiseMixWebGpu } from './noise-mix-webgpu.js';

// One kernel for the whole quantization-noise mix of docs/method.md §4.2,
//   T̂ = f·u + Σ_b a_b·(u + Δ_b(u)·ξ_b),  u = ReLU(T) for activations, T for weights,
// with Δ_b's range, every bit-width's noise and the mixing in two passes over T, and two backward
// kernels (one per input) that regenerate ξ from its seed instead of storing it.

export type { NoiseMixAttrs } from './noise-mix-attrs.js';

type Attrs = tf.NamedAttrMap;
const attrsOf = (a: Attrs) => a as unknown as NoiseMixAttrs;

interface Mix {
  f: number;
  /** Σ p over the slice, plus f. */
  z: number;
  /** a_b = p_b / z. */
  a: Float64Array;
  /** Indices of the noisy (non-32) bit-widths, their keys and 1/(2^b − 1). */
  noisy: number[];
  keys: number[];
  inv: number[];
}

function mixOf(p: Float32Array, attrs: NoiseMixAttrs): Mix {
  const n = attrs.bits.length;
  if (attrs.offset < 0 || attrs.offset + n > p.length) {
    throw new Error(`noise mix: probabilities ${attrs.offset}..${attrs.offset + n - 1} lie outside a vector of ${p.length}`);
  }
  const f = 1 / (n + 1);
  let sum = 0;
  for (let b = 0; b < n; b++) sum += p[attrs.offset + b]!;
  const z = sum + f;
  const a = new Float64Array(n);
  const noisy: number[] = [];
  const keys: number[] = [];
  const inv: number[] = [];
  for (let b = 0; b < n; b++) {
    a[b] = p[attrs.offset + b]! / z;
    if (attrs.bits[b] !== 32) {
      noisy.push(b);
      keys.push(noiseKey(attrs.seeds[b]!));
      inv.push(1 / (2 ** attrs.bits[b]! - 1));
    }
  }
  return { f, z, a, noisy, keys, inv };
}

/** max u − min u in float32, u = ReLU(t) when `relu`. */
function rangeOf(t: Float32Array, relu: boolean): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < t.length; i++) {
    const v = t[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (relu) {
    lo = Math.max(lo, 0);
    hi = Math.max(hi, 0);
  }
  return t.length === 0 ? 0 : Math.fround(hi - lo);
}

const xiAt = (kind: NoiseKind) => (kind === 'uniform' ? uniformAt : gaussianAt);

const forward: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasNoiseMix',
  webgpu: noiseMixWebGpu,
  inputNames: () => ['t', 'p'],
  outputShapes: ([t]) => [[...t!]],
  compute([t, p], [y], _shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const m = mixOf(p!, at);
    let s = 0;
    for (let b = 0; b < m.a.length; b++) s += m.a[b]!;
    const scale = m.f + s;
    const x = t!;
    const out = y!;
    const relu = at.relu;
    const count = at.noise ? m.noisy.length : 0;
    if (simd && count <= 2 && (count === 0 || at.kind === 'uniform')) {
      const [xp] = simd.inputs as [number];
      const range = count > 0 ? simd.k.range(xp, x.length, relu) : 0;
      const c = m.noisy.map((b, j) => range * m.a[b]! * m.inv[j]!);
      simd.k.noiseMix(xp, simd.outputs[0]!, x.length, relu, scale, count, (m.keys[0] ?? 0) | 0, c[0] ?? 0, (m.keys[1] ?? 0) | 0, c[1] ?? 0);
      return;
    }
    if (count === 0) {
      for (let i = 0; i < x.length; i++) {
        const u = relu && x[i]! < 0 ? 0 : x[i]!;
        out[i] = scale * u;
      }
      return;
    }
    const range = rangeOf(x, relu);
    const xi = xiAt(at.kind);
    const c = m.noisy.map((b, j) => range * m.a[b]! * m.inv[j]!);
    if (count === 1) {
      const k0 = m.keys[0]!;
      const c0 = c[0]!;
      for (let i = 0; i < x.length; i++) {
        const u = relu && x[i]! < 0 ? 0 : x[i]!;
        out[i] = scale * u + c0 * xi(k0, i);
      }
    } else if (count === 2) {
      const [k0, k1] = m.keys as [number, number];
      const [c0, c1] = c as [number, number];
      for (let i = 0; i < x.length; i++) {
        const u = relu && x[i]! < 0 ? 0 : x[i]!;
        out[i] = scale * u + c0 * xi(k0, i) + c1 * xi(k1, i);
      }
    } else {
      for (let i = 0; i < x.length; i++) {
        const u = relu && x[i]! < 0 ? 0 : x[i]!;
        let v = scale * u;
        for (let j = 0; j < count; j++) v += c[j]! * xi(m.keys[j]!, i);
        out[i] = v;
      }
    }
  },
};

/** dT = dy·g·[T > 0 if relu], g = f + Σ a_b (through, or the expectation) or f (detached). */
const gradInput: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasNoiseMixGradInput',
  webgpu: noiseMixGradInputWebGpu,
  inputNames: () => ['dy', 't', 'p'],
  outputShapes: ([, t]) => [[...t!]],
  compute([dy, t, p], [dt], _shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const m = mixOf(p!, at);
    let s = 0;
    for (let b = 0; b < m.a.length; b++) s += m.a[b]!;
    const g = at.through || !at.noise ? m.f + s : m.f;
    if (simd) {
      simd.k.scaleMasked(simd.inputs[0]!, simd.inputs[1]!, simd.outputs[0]!, t!.length, g, at.relu);
      return;
    }
    const d = dy!;
    const x = t!;
    const out = dt!;
    if (at.relu) for (let i = 0; i < x.length; i++) out[i] = x[i]! > 0 ? g * d[i]! : 0;
    else for (let i = 0; i < x.length; i++) out[i] = g * d[i]!;
  },
};

/**
 * dp over the slice: with G_b = Σ dy·QN_b(u) = D + Δ_b·N_b (D = Σ dy·u, N_b = Σ dy·ξ_b) and
 * a_b = p_b / z, dp_j = G_j / z − Σ_b G_b·p_b / z². Zero outside the slice.
 */
const gradProb: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasNoiseMixGradProb',
  webgpu: noiseMixGradProbWebGpu,
  inputNames: () => ['dy', 't', 'p'],
  outputShapes: ([, , p]) => [[...p!]],
  compute([dy, t, p], [dp], _shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const m = mixOf(p!, at);
    const d = dy!;
    const x = t!;
    const relu = at.relu;
    const count = at.noise ? m.noisy.length : 0;
    const xi = xiAt(at.kind);
    let dSum = 0;
    const nSum = new Float64Array(count);
    if (simd && count <= 2 && (count === 0 || at.kind === 'uniform')) {
      simd.k.noiseMixSums(simd.inputs[0]!, simd.inputs[1]!, x.length, relu, count, (m.keys[0] ?? 0) | 0, (m.keys[1] ?? 0) | 0);
      dSum = simd.k.sumDot();
      if (count > 0) nSum[0] = simd.k.sumNoise0();
      if (count > 1) nSum[1] = simd.k.sumNoise1();
    } else if (count === 0) {
      for (let i = 0; i < x.length; i++) dSum += d[i]! * (relu && x[i]! < 0 ? 0 : x[i]!);
    } else if (count === 2) {
      const [k0, k1] = m.keys as [number, number];
      let n0 = 0;
      let n1 = 0;
      for (let i = 0; i < x.length; i++) {
        const g = d[i]!;
        dSum += g * (relu && x[i]! < 0 ? 0 : x[i]!);
        n0 += g * xi(k0, i);
        n1 += g * xi(k1, i);
      }
      nSum[0] = n0;
      nSum[1] = n1;
    } else {
      for (let i = 0; i < x.length; i++) {
        const g = d[i]!;
        dSum += g * (relu && x[i]! < 0 ? 0 : x[i]!);
        for (let j = 0; j < count; j++) nSum[j]! += g * xi(m.keys[j]!, i);
      }
    }
    const range = count === 0 ? 0 : simd ? simd.k.range(simd.inputs[1]!, x.length, relu) : rangeOf(x, relu);
    const n = at.bits.length;
    const gb = new Float64Array(n).fill(dSum);
    m.noisy.forEach((b, j) => {
      if (j < count) gb[b] = dSum + range * m.inv[j]! * nSum[j]!;
    });
    let weighted = 0;
    for (let b = 0; b < n; b++) weighted += gb[b]! * p![at.offset + b]!;
    const out = dp!;
    out.fill(0);
    for (let b = 0; b < n; b++) out[at.offset + b] = gb[b]! / m.z - weighted / (m.z * m.z);
  },
};

let ready = false;
function register(): void {
  if (ready) return;
  for (const k of [forward, gradInput, gradProb]) registerFusedKernel(k);
  registerFusedGradient({
    kernelName: forward.name,
    inputsToSave: ['t', 'p'],
    gradFunc: (dy, saved, attrs) => {
      const [t, p] = saved as [tf.Tensor, tf.Tensor];
      const inputs = { dy: dy as tf.Tensor, t, p };
      return {
        t: () => runFused(gradInput.name, inputs, attrs),
        p: () => runFused(gradProb.name, inputs, attrs),
      };
    },
  });
  ready = true;
}

/** The fused noise mix of `t` with the probabilities `p[offset .. offset + |bits|)`. */
export function fusedNoiseMix<T extends tf.Tensor>(t: T, p: tf.Tensor1D, attrs: NoiseMixAttrs): T {
  register();
  if (attrs.seeds.length !== attrs.bits.length)
    throw new Error(`noise mix: ${attrs.bits.length} bit-widths need ${attrs.bits.length} seeds, got ${attrs.seeds.length}`);
  return runFused(forward.name, { t, p }, { ...attrs, bits: [...attrs.bits], seeds: [...attrs.seeds] }) as T;
}
