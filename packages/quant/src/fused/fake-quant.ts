import { tf } from '@quantnas/core-ops';
import { roundHalfEven } from '../integer.js';
import {
  registerFusedGradient,
  registerFusedKernel,
  runFused,
  runWgslElementwise,
  runWgslReduction,
  type FusedKernel,
  type WebGpuBackendLike,
  type WgslUniform,
} from '@quantnas/core-ops';
import { simdKernels, type SimdKernels } from './simd.js';

// The QAT quantizers of docs/method.md §4.1 as one kernel each way, computing in float32 the same
// operations as the composed path (division, clip, half-to-even rounding, product), so the forward
// values are identical to it:
// - LSQ weights with a learned per-output-channel step on the last axis;
// - HWGQ activations with a fixed step, or with a learned scalar step (LSQ on activations).

type Attrs = tf.NamedAttrMap;
type TensorInfo = tf.TensorInfo;
const f32 = Math.fround;

interface LsqAttrs {
  readonly qn: number;
  readonly qp: number;
  readonly gradScale: number;
}

const lsqForward: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasLsq',
  webgpu: (backend, [w, s], attrs) => {
    const { qn, qp } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(w!.shape, s!.shape);
    return [
      runWgslElementwise(backend, {
        key: 'lsq',
        inputs: { w: w!, s: s! },
        outputShape: w!.shape,
        uniforms: lsqUniforms(qn, qp, channels),
        body: `let st = s[index % uniforms.channels];
    let v = w[index] / st;
    setOutputAtIndex(index, round(clamp(v, -uniforms.qn, uniforms.qp)) * st);`,
      }),
    ];
  },
  inputNames: () => ['w', 's'],
  outputShapes: ([w]) => [[...w!]],
  compute([w, s], [y], shapes, attrs) {
    const { qn, qp } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(shapes[0]!, shapes[1]!);
    const x = w!;
    const st = s!;
    const out = y!;
    for (let i = 0; i < x.length; i++) {
      const step = st[i % channels]!;
      const v = f32(x[i]! / step);
      out[i] = f32(roundHalfEven(v < -qn ? -qn : v > qp ? qp : v) * step);
    }
  },
};

/** dw = dy where −qn < w/s < qp, else 0. */
const lsqGradInput: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasLsqGradInput',
  webgpu: (backend, [dy, w, s], attrs) => {
    const { qn, qp } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(w!.shape, s!.shape);
    return [
      runWgslElementwise(backend, {
        key: 'lsq_grad_input',
        inputs: { dy: dy!, w: w!, s: s! },
        outputShape: w!.shape,
        uniforms: lsqUniforms(qn, qp, channels),
        body: `let v = w[index] / s[index % uniforms.channels];
    setOutputAtIndex(index, select(0.0, dy[index], v > -uniforms.qn && v < uniforms.qp));`,
      }),
    ];
  },
  inputNames: () => ['dy', 'w', 's'],
  outputShapes: ([, w]) => [[...w!]],
  compute([dy, w, s], [dw], shapes, attrs) {
    const { qn, qp } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(shapes[1]!, shapes[2]!);
    const x = w!;
    const d = dy!;
    const st = s!;
    const out = dw!;
    for (let i = 0; i < x.length; i++) {
      const v = f32(x[i]! / st[i % channels]!);
      out[i] = v > -qn && v < qp ? d[i]! : 0;
    }
  },
};

/** ds_c = g·Σ dy·(round(v) − v inside, qp at or above the top, −qn at or below the bottom). */
const lsqGradStep: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasLsqGradStep',
  webgpu: (backend, [dy, w, s], attrs) => {
    const { qn, qp, gradScale } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(w!.shape, s!.shape);
    const count = w!.shape.reduce((p, d) => p * d, 1);
    return [
      runWgslReduction(backend, {
        key: 'lsq_grad_step',
        inputs: { dy: dy!, w: w!, s: s! },
        outputShape: s!.shape,
        uniforms: [...lsqUniforms(qn, qp, channels), { name: 'count', type: 'i32', value: count }, { name: 'gradScale', type: 'f32', value: gradScale }],
        accumulate: `let st = s[outIndex];
    for (var i = outIndex + lane * uniforms.channels; i < uniforms.count; i = i + REDUCE_LANES * uniforms.channels) {
      let v = w[i] / st;
      var e = round(v) - v;
      if (v >= uniforms.qp) { e = uniforms.qp; } else if (v <= -uniforms.qn) { e = -uniforms.qn; }
      acc = acc + dy[i] * e;
    }`,
        finish: 'total * uniforms.gradScale',
      }),
    ];
  },
  inputNames: () => ['dy', 'w', 's'],
  outputShapes: ([, , s]) => [[...s!]],
  compute([dy, w, s], [ds], shapes, attrs) {
    const { qn, qp, gradScale } = attrs as unknown as LsqAttrs;
    const channels = checkChannels(shapes[1]!, shapes[2]!);
    const acc = new Float64Array(channels);
    const x = w!;
    const d = dy!;
    const st = s!;
    for (let i = 0; i < x.length; i++) {
      const c = i % channels;
      const v = f32(x[i]! / st[c]!);
      const e = v >= qp ? qp : v <= -qn ? -qn : roundHalfEven(v) - v;
      acc[c]! += d[i]! * e;
    }
    const out = ds!;
    for (let c = 0; c < channels; c++) out[c] = acc[c]! * gradScale;
  },
};

function checkChannels(wShape: readonly number[], sShape: readonly number[]): number {
  const channels = wShape[wShape.length - 1]!;
  if (sShape.length !== 1 || sShape[0] !== channels)
    throw new Error(`LSQ: a step of shape [${sShape.join(', ')}] for a weight with ${channels} output channels`);
  return channels;
}

interface HwgqAttrs {
  /** Fixed step (unused when the step is an input). */
  readonly step: number;
  /** 2^b − 1. */
  readonly levels: number;
  readonly gradScale: number;
}

const hwgqForward: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasHwgq',
  webgpu: (backend, [x], attrs) => {
    const { step, levels } = attrs as unknown as HwgqAttrs;
    return [
      runWgslElementwise(backend, {
        key: 'hwgq',
        inputs: { x: x! },
        outputShape: x!.shape,
        uniforms: [
          { name: 'stepSize', type: 'f32', value: f32(step) },
          { name: 'clip', type: 'f32', value: f32(f32(step) * levels) },
        ],
        body: `setOutputAtIndex(index, round(clamp(x[index], 0.0, uniforms.clip) / uniforms.stepSize) * uniforms.stepSize);`,
      }),
    ];
  },
  inputNames: () => ['x'],
  outputShapes: ([x]) => [[...x!]],
  compute([x], [y], _shapes, attrs, simd) {
    const { step, levels } = attrs as unknown as HwgqAttrs;
    if (simd) simd.k.hwgq(simd.inputs[0]!, simd.outputs[0]!, x!.length, f32(step), f32(f32(step) * levels));
    else quantizeActivations(x!, y!, f32(step), f32(f32(step) * levels));
  },
};

const hwgqGrad: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasHwgqGrad',
  webgpu: (backend, [dy, x], attrs) => {
    const { step, levels } = attrs as unknown as HwgqAttrs;
    return [passInsideWebGpu(backend, dy!, x!, { name: 'clip', type: 'f32', value: f32(f32(step) * levels) }, 'uniforms.clip')];
  },
  inputNames: () => ['dy', 'x'],
  outputShapes: ([, x]) => [[...x!]],
  compute([dy, x], [dx], _shapes, attrs, simd) {
    const { step, levels } = attrs as unknown as HwgqAttrs;
    if (simd) simd.k.passInside(simd.inputs[0]!, simd.inputs[1]!, simd.outputs[0]!, x!.length, f32(f32(step) * levels));
    else passInside(dy!, x!, dx!, f32(f32(step) * levels));
  },
};

const hwgqLearnedForward: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasHwgqLearned',
  webgpu: (backend, [x, s], attrs) => {
    const { levels } = attrs as unknown as HwgqAttrs;
    return [
      runWgslElementwise(backend, {
        key: 'hwgq_learned',
        inputs: { x: x!, s: s! },
        outputShape: x!.shape,
        uniforms: [{ name: 'levels', type: 'f32', value: levels }],
        body: `let st = s[0];
    setOutputAtIndex(index, round(clamp(x[index], 0.0, st * uniforms.levels) / st) * st);`,
      }),
    ];
  },
  inputNames: () => ['x', 's'],
  outputShapes: ([x]) => [[...x!]],
  compute([x, s], [y], _shapes, attrs, simd) {
    const { levels } = attrs as unknown as HwgqAttrs;
    const step = s![0]!;
    if (simd) simd.k.hwgq(simd.inputs[0]!, simd.outputs[0]!, x!.length, step, f32(step * levels));
    else quantizeActivations(x!, y!, step, f32(step * levels));
  },
};

const hwgqLearnedGradInput: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasHwgqLearnedGradInput',
  webgpu: (backend, [dy, x, s], attrs) => {
    const { levels } = attrs as unknown as HwgqAttrs;
    return [passInsideWebGpu(backend, dy!, x!, { name: 'levels', type: 'f32', value: levels }, 's[0] * uniforms.levels', s!)];
  },
  inputNames: () => ['dy', 'x', 's'],
  outputShapes: ([, x]) => [[...x!]],
  compute([dy, x, s], [dx], _shapes, attrs, simd) {
    const { levels } = attrs as unknown as HwgqAttrs;
    if (simd) simd.k.passInside(simd.inputs[0]!, simd.inputs[1]!, simd.outputs[0]!, x!.length, f32(s![0]! * levels));
    else passInside(dy!, x!, dx!, f32(s![0]! * levels));
  },
};

/** ds = g·Σ dy·(round(x/s) − x/s inside (0, clip), 2^b − 1 at or above the clip, 0 below 0). */
const hwgqLearnedGradStep: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasHwgqLearnedGradStep',
  webgpu: (backend, [dy, x, s], attrs) => {
    const { levels, gradScale } = attrs as unknown as HwgqAttrs;
    return [
      runWgslReduction(backend, {
        key: 'hwgq_learned_grad_step',
        inputs: { dy: dy!, x: x!, s: s! },
        outputShape: [1],
        uniforms: [
          { name: 'count', type: 'i32', value: x!.shape.reduce((p, d) => p * d, 1) },
          { name: 'levels', type: 'f32', value: levels },
          { name: 'gradScale', type: 'f32', value: gradScale },
        ],
        accumulate: `let st = s[0];
    let clip = st * uniforms.levels;
    for (var i = lane; i < uniforms.count; i = i + REDUCE_LANES) {
      let v = x[i];
      if (v >= clip) {
        acc = acc + dy[i] * uniforms.levels;
      } else if (v > 0.0) {
        let q = v / st;
        acc = acc + dy[i] * (round(q) - q);
      }
    }`,
        finish: 'total * uniforms.gradScale',
      }),
    ];
  },
  inputNames: () => ['dy', 'x', 's'],
  outputShapes: ([, , s]) => [[...s!]],
  compute([dy, x, s], [ds], _shapes, attrs) {
    const { levels, gradScale } = attrs as unknown as HwgqAttrs;
    const step = s![0]!;
    const clip = f32(step * levels);
    const t = x!;
    const d = dy!;
    let acc = 0;
    for (let i = 0; i < t.length; i++) {
      const v = t[i]!;
      if (v >= clip) acc += d[i]! * levels;
      else if (v > 0) {
        const q = f32(v / step);
        acc += d[i]! * (roundHalfEven(q) - q);
      }
    }
    ds![0] = acc * gradScale;
  },
};

function lsqUniforms(qn: number, qp: number, channels: number): WgslUniform[] {
  return [
    { name: 'qn', type: 'f32', value: qn },
    { name: 'qp', type: 'f32', value: qp },
    { name: 'channels', type: 'i32', value: channels },
  ];
}

/** dx = dy where 0 < x < clip, on webgpu; `clip` a WGSL expression of the uniform and `s`. */
function passInsideWebGpu(backend: WebGpuBackendLike, dy: TensorInfo, x: TensorInfo, uniform: WgslUniform, clip: string, s?: TensorInfo): TensorInfo {
  return runWgslElementwise(backend, {
    key: s ? 'hwgq_learned_grad_input' : 'hwgq_grad',
    inputs: s ? { dy, x, s } : { dy, x },
    outputShape: x.shape,
    uniforms: [uniform],
    body: `let v = x[index];
    setOutputAtIndex(index, select(0.0, dy[index], v > 0.0 && v < ${clip}));`,
  });
}

function quantizeActivations(x: Float32Array, y: Float32Array, step: number, clip: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const c = v < 0 ? 0 : v > clip ? clip : v;
    y[i] = f32(roundHalfEven(f32(c / step)) * step);
  }
}

function passInside(dy: Float32Array, x: Float32Array, dx: Float32Array, clip: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    dx[i] = v > 0 && v < clip ? dy[i]! : 0;
  }
}

let ready = false;
function register(): void {
  if (ready) return;
  for (const k of [lsqForward, lsqGradInput, lsqGradStep, hwgqForward, hwgqGrad, hwgqLearnedForward, hwgqLearnedGradInput, hwgqLearnedGradStep]) {
    registerFusedKernel(k);
  }
  registerFusedGradient({
    kernelName: lsqForward.name,
    inputsToSave: ['w', 's'],
    gradFunc: (dy, [w, s], attrs) => {
      const inputs = { dy: dy as tf.Tensor, w: w!, s: s! };
      return { w: () => runFused(lsqGradInput.name, inputs, attrs), s: () => runFused(lsqGradStep.name, inputs, attrs) };
    },
  });
  registerFusedGradient({
    kernelName: hwgqForward.name,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => runFused(hwgqGrad.name, { dy: dy as tf.Tensor, x: x! }, attrs) }),
  });
  registerFusedGradient({
    kernelName: hwgqLearnedForward.name,
    inputsToSave: ['x', 's'],
    gradFunc: (dy, [x, s], attrs) => {
      const inputs = { dy: dy as tf.Tensor, x: x!, s: s! };
      return {
        x: () => runFused(hwgqLearnedGradInput.name, inputs, attrs),
        s: () => runFused(hwgqLearnedGradStep.name, inputs, attrs),
      };
    },
  });
  ready = true;
}

/** LSQ fake quantization, fused: same values and gradients as `lsqQuantize`. */
export function fusedLsq<T extends tf.Tensor>(w: T, step: tf.Tensor1D, range: { qn: number; qp: number }, gradScale: number): T {
  register();
  return runFused(lsqForward.name, { w, s: step }, { qn: range.qn, qp: range.qp, gradScale } as unknown as Attrs) as T;
}

/** HWGQ with a fixed or learned step, fused: same values and gradients as `hwgqQuantize`. */
export function fusedHwgq<T extends tf.Tensor>(x: T, levels: number, step: number | tf.Tensor, gradScale = 1): T {
  register();
  if (typeof step === 'number') return runFused(hwgqForward.name, { x }, { step, levels, gradScale: 1 }) as T;
  if (step.size !== 1) throw new Error(`HWGQ: a learned step must be one value, got shape [${step.shape.join(', ')}]`);
  return runFused(hwgqLearnedForward.name, { x, s: step }, { step: 0, levels, gradScale }) as T;
}
