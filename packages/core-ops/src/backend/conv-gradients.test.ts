// The same conv suite (forward, input gradient, filter gradient) on every fast backend, checked
// against tfjs-backend-cpu. WebGPU runs when an adapter exists; QUANTNAS_REQUIRE_WEBGPU=1 (CI)
// turns a missing adapter into a failure.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import type { ResolvedBackend } from '../backend.js';
import { initBackend } from './select.js';
import { probeWebGpu } from './webgpu.js';
import { filterGradientTuning } from './kernels/Conv2DBackpropFilter.js';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface ConvCase {
  readonly x: [number, number, number, number];
  /** [KH, KW, Ci, Co], or [KH, KW, C, multiplier] when depthwise. */
  readonly w: [number, number, number, number];
  readonly stride: number | [number, number];
  readonly pad: Pad;
  readonly depthwise?: boolean;
}

interface ConvResult {
  out: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

function label(c: ConvCase): string {
  const pad = typeof c.pad === 'string' ? c.pad : `explicit${JSON.stringify(c.pad.slice(1, 3))}`;
  return `${c.depthwise ? 'depthwise ' : ''}x${c.x.join('x')} w${c.w.join('x')} stride ${c.stride} ${pad}`;
}

const conv2dCases: ConvCase[] = [];
for (const k of [1, 3, 5]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      for (const [ci, co] of [
        [1, 4],
        [3, 8],
        [8, 3],
      ] as const) {
        conv2dCases.push({ x: [2, 7, 8, ci], w: [k, k, ci, co], stride, pad });
      }
    }
  }
}
conv2dCases.push(
  { x: [2, 6, 6, 3], w: [2, 2, 3, 5], stride: 1, pad: 'same' }, // even kernel: asymmetric 'same'
  { x: [1, 8, 8, 4], w: [4, 4, 4, 2], stride: 2, pad: 'same' },
  { x: [3, 6, 7, 2], w: [1, 3, 2, 4], stride: 1, pad: 'same' }, // the Kx1 / 1xK primitives
  { x: [3, 6, 7, 2], w: [5, 1, 2, 4], stride: 1, pad: 'same' },
  { x: [2, 9, 9, 4], w: [3, 3, 4, 4], stride: 2, pad: 'valid' }, // ESA's strided reduction
  { x: [1, 7, 5, 3], w: [3, 3, 3, 2], stride: [2, 1], pad: 'same' },
  {
    x: [2, 5, 6, 2],
    w: [3, 3, 2, 3],
    stride: 1,
    pad: [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  },
  {
    x: [2, 6, 5, 2],
    w: [3, 3, 2, 3],
    stride: 2,
    pad: [
      [0, 0],
      [0, 2],
      [3, 1],
      [0, 0],
    ],
  },
  // Wide outputs: the wasm filter gradient as a GEMM.
  { x: [2, 7, 6, 5], w: [3, 3, 5, 24], stride: 1, pad: 'same' },
  { x: [2, 5, 6, 3], w: [1, 5, 3, 32], stride: 1, pad: 'valid' },
);

const depthwiseCases: ConvCase[] = [];
for (const k of [1, 3, 5]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      depthwiseCases.push({ x: [2, 7, 8, 3], w: [k, k, 3, stride === 1 ? 1 : 2], stride, pad, depthwise: true });
    }
  }
}
depthwiseCases.push(
  { x: [2, 6, 6, 1], w: [3, 3, 1, 3], stride: 2, pad: 'same', depthwise: true },
  // Multiplier ≥ channels: through the equivalent dense conv (the bicubic skip is 3 × 16, 5×5).
  { x: [2, 7, 8, 3], w: [5, 5, 3, 16], stride: 1, pad: 'same', depthwise: true },
  { x: [2, 6, 7, 2], w: [3, 3, 2, 4], stride: 1, pad: 'valid', depthwise: true },
);

/** Deterministic values in [-1, 1), the same on every backend. */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function conv(c: ConvCase, x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  return c.depthwise ? tf.depthwiseConv2d(x, w, c.stride, c.pad) : tf.conv2d(x, w, c.stride, c.pad);
}

/** Forward and both gradients of sum(conv(x, w) · r) on one backend. */
async function runCase(backend: ResolvedBackend, c: ConvCase): Promise<ConvResult> {
  await initBackend(backend);
  const x = tf.tensor4d(values(size(c.x), 1), c.x);
  const w = tf.tensor4d(values(size(c.w), 2), c.w);
  const out = conv(c, x, w);
  const r = tf.tensor(values(size(out.shape), 3), out.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(c, a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
  const result = { out: (await out.data()) as Float32Array, dx: (await dx!.data()) as Float32Array, dw: (await dw!.data()) as Float32Array };
  tf.dispose([x, w, out, r, dx!, dw!]);
  return result;
}

/** max |a - b| / max |b|: one number per tensor, insensitive to values near zero. */
function relativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

const oracle = new Map<ConvCase, ConvResult>();
async function expected(c: ConvCase): Promise<ConvResult> {
  let result = oracle.get(c);
  if (!result) {
    result = await runCase('cpu', c);
    oracle.set(c, result);
  }
  return result;
}

async function expectMatchesCpu(backend: ResolvedBackend, c: ConvCase, tolerance: number): Promise<void> {
  const want = await expected(c);
  const got = await runCase(backend, c);
  expect(relativeError(got.out, want.out), 'forward').toBeLessThan(tolerance);
  expect(relativeError(got.dx, want.dx), 'input gradient').toBeLessThan(tolerance);
  expect(relativeError(got.dw, want.dw), 'filter gradient').toBeLessThan(tolerance);
}

const requireWebGpu = process.env.QUANTNAS_REQUIRE_WEBGPU === '1';
const webgpuProbe = await probeWebGpu({ requireDriver: true });
const webgpuSkipReason = webgpuProbe.found ? undefined : `no WebGPU adapter (${webgpuProbe.reason}); run tools/setup-vulkan.sh and export what it prints`;
if (webgpuSkipReason && !requireWebGpu) {
  console.warn(`[core-ops] skipping the webgpu conv tests: ${webgpuSkipReason}`);
}

describe('wasm conv kernels match the cpu backend', () => {
  it.each(conv2dCases.map((c) => [label(c), c] as const))('conv2d %s', async (_, c) => {
    await expectMatchesCpu('wasm', c, 1e-5);
  });

  it.each(['gemm', 'swapped'] as const)('conv2d filter gradient computed only as a %s, at every stride-1 case', async (path) => {
    filterGradientTuning.path = path;
    try {
      for (const c of conv2dCases.filter((c) => c.stride === 1)) await expectMatchesCpu('wasm', c, 1e-5);
    } finally {
      filterGradientTuning.path = 'auto';
    }
  });

  it('conv2d filter gradient as a GEMM over an im2col budget it exceeds (built and summed in parts)', async () => {
    const budget = filterGradientTuning.im2colFloats;
    // 3·3·4 rows × 14·14 padded positions per image: three images per part, five images in two parts.
    filterGradientTuning.im2colFloats = 36 * 196 * 3;
    filterGradientTuning.path = 'gemm';
    try {
      await expectMatchesCpu('wasm', { x: [5, 12, 12, 4], w: [3, 3, 4, 24], stride: 1, pad: 'same' }, 1e-5);
      await expectMatchesCpu('wasm', { x: [5, 12, 12, 4], w: [1, 1, 4, 24], stride: 1, pad: 'valid' }, 1e-5);
    } finally {
      filterGradientTuning.im2colFloats = budget;
      filterGradientTuning.path = 'auto';
    }
  });

  it.each(depthwiseCases.map((c) => [label(c), c] as const))('%s', async (_, c) => {
    await expectMatchesCpu('wasm', c, 1e-5);
  });
});

describe('webgpu conv kernels match the cpu backend', () => {
  it('has an adapter when QUANTNAS_REQUIRE_WEBGPU=1', () => {
    if (requireWebGpu) expect(webgpuProbe.found, webgpuSkipReason).toBe(true);
  });

  describe.skipIf(!webgpuProbe.found)(`on ${webgpuProbe.found ? webgpuProbe.adapter.description : 'no adapter'}`, () => {
    beforeAll(async () => {
      const info = await initBackend('webgpu');
      expect(info.name).toBe('webgpu');
      expect(info.webgpu?.maxStorageBufferBindingSize).toBeGreaterThan(0);
    });

    // float32 accumulations in another order than the cpu backend's.
    it.each([...conv2dCases, ...depthwiseCases].map((c) => [label(c), c] as const))('%s', async (_, c) => {
      await expectMatchesCpu('webgpu', c, 1e-5);
    });
  });
});

describe('replaced wasm kernels against central finite differences', () => {
  // sum(conv(x, w) · r) is linear in each of x and w, so a central difference is exact up to rounding.
  it.each([
    { x: [1, 5, 6, 2], w: [3, 3, 2, 3], stride: 2, pad: 'same' },
    { x: [2, 5, 5, 2], w: [3, 3, 2, 2], stride: 2, pad: 'valid', depthwise: true },
  ] as ConvCase[])('$x $w stride $stride $pad depthwise: $depthwise', async (c) => {
    await initBackend('wasm');
    const got = await runCase('wasm', c);
    const xv = values(size(c.x), 1);
    const wv = values(size(c.w), 2);
    const w0 = tf.tensor4d(wv, c.w);
    const outShape = conv(c, tf.tensor4d(xv, c.x), w0).shape;
    const r = tf.tensor(values(size(outShape), 3), outShape);
    const loss = async (xa: Float32Array, wa: Float32Array) => {
      const l = tf.tidy(() => tf.sum(tf.mul(conv(c, tf.tensor4d(xa, c.x), tf.tensor4d(wa, c.w)), r)));
      const v = (await l.data())[0]!;
      l.dispose();
      return v;
    };
    const eps = 0.05;
    const numeric = async (base: Float32Array, isX: boolean) => {
      const grad = new Float32Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const plus = base.slice();
        const minus = base.slice();
        plus[i]! += eps;
        minus[i]! -= eps;
        const fp = isX ? await loss(plus, wv) : await loss(xv, plus);
        const fm = isX ? await loss(minus, wv) : await loss(xv, minus);
        grad[i] = (fp - fm) / (2 * eps);
      }
      return grad;
    };
    expect(relativeError(got.dx, await numeric(xv, true))).toBeLessThan(1e-4);
    expect(relativeError(got.dw, await numeric(wv, false))).toBeLessThan(1e-4);
    tf.dispose([w0, r]);
  });
});

describe('replaced wasm kernels', () => {
  it('release every intermediate buffer', async () => {
    await initBackend('wasm');
    const c = conv2dCases.find((k) => k.stride === 2 && k.pad === 'same' && k.w[0] === 3)!;
    await runCase('wasm', c); // XNNPACK and kernel setup happen once
    const buffers = tf.engine().backend.numDataIds();
    const tensors = tf.memory().numTensors;
    await runCase('wasm', c);
    await runCase('wasm', depthwiseCases[5]!);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('clone without copying, and keep the clone valid when the original is disposed', async () => {
    await initBackend('wasm');
    const a = tf.tensor1d([1, 2, 3]);
    const buffers = tf.engine().backend.numDataIds();
    const b = a.clone();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers - 1);
  });

  it('reject dilation and NCHW clearly', async () => {
    await initBackend('wasm');
    const dy = tf.zeros([1, 4, 4, 2]);
    const filter = tf.zeros([3, 3, 2, 1]);
    expect(() =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
        strides: 1,
        dilations: 2,
        pad: 'same',
        inputShape: [1, 4, 4, 2],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dilation 1 only/);
    const x = tf.zeros([1, 2, 4, 4]);
    expect(() =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: x }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        filterShape: [3, 3, 2, 2],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/NHWC/);
    tf.dispose([dy, filter, x]);
  });
});
