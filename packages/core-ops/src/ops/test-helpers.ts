// Float64 plain-array references and fixtures for the op tests (not exported from the package).
import type { ConvQuantizer, ConvQuantizerFactory } from '../conv-quant.js';
import { tf } from '../tf.js';
import { variableFrom } from './checks.js';
import { seededUniform } from './seeded-random.js';

/** A dense NHWC array in float64 with its shape. */
export interface Nhwc {
  readonly shape: readonly [number, number, number, number];
  readonly data: Float64Array;
}

export async function toNhwc(t: tf.Tensor): Promise<Nhwc> {
  const [n, h, w, c] = t.shape as [number, number, number, number];
  return { shape: [n, h, w, c], data: Float64Array.from(await t.data()) };
}

export const at = (x: Nhwc, n: number, h: number, w: number, c: number): number => x.data[((n * x.shape[1] + h) * x.shape[2] + w) * x.shape[3] + c]!;

export function makeNhwc(shape: readonly [number, number, number, number], f: (n: number, h: number, w: number, c: number) => number): Nhwc {
  const [N, H, W, C] = shape;
  const data = new Float64Array(N * H * W * C);
  let i = 0;
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) data[i++] = f(n, h, w, c);
  return { shape, data };
}

/**
 * Values with |v| in [0.2, 1): far enough from ReLU's kink that a finite-difference step of 1e-2
 * never crosses it.
 */
export function awayFromZero(seed: number, key: string, shape: readonly number[]): tf.Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const u = seededUniform(seed, key, count, -1, 1);
  const v = u.map((x) => Math.sign(x || 1) * (0.2 + 0.8 * Math.abs(x)));
  return tf.tensor(v, [...shape]);
}

/** Reference grouped conv in float64 (PyTorch semantics), filter [kh, kw, in/groups, out]. */
export function referenceConv(
  x: Nhwc,
  w: { shape: readonly number[]; data: ArrayLike<number> },
  groups: number,
  stride: number,
  padding: 'same' | 'valid',
  bias?: ArrayLike<number>,
): Nhwc {
  const [N, H, W, C] = x.shape;
  const [kh, kw, inPerGroup, out] = w.shape as [number, number, number, number];
  const outPerGroup = out / groups;
  const [ph, pw] = padding === 'same' ? [(kh - 1) / 2, (kw - 1) / 2] : [0, 0];
  const Ho = Math.floor((H + 2 * ph - kh) / stride) + 1;
  const Wo = Math.floor((W + 2 * pw - kw) / stride) + 1;
  if (inPerGroup * groups !== C) throw new Error('referenceConv: channel mismatch');
  return makeNhwc([N, Ho, Wo, out], (n, oh, ow, o) => {
    const g = Math.floor(o / outPerGroup);
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < kh; i++) {
      const ih = oh * stride + i - ph;
      if (ih < 0 || ih >= H) continue;
      for (let j = 0; j < kw; j++) {
        const iw = ow * stride + j - pw;
        if (iw < 0 || iw >= W) continue;
        for (let ci = 0; ci < inPerGroup; ci++) {
          s += at(x, n, ih, iw, g * inPerGroup + ci) * w.data[((i * kw + j) * inPerGroup + ci) * out + o]!;
        }
      }
    }
    return s;
  });
}

export const mapNhwc = (x: Nhwc, f: (v: number) => number): Nhwc => ({ shape: x.shape, data: x.data.map(f) });
export const relu64 = (x: Nhwc): Nhwc => mapNhwc(x, (v) => Math.max(v, 0));
export const add64 = (a: Nhwc, b: Nhwc): Nhwc => ({ shape: a.shape, data: a.data.map((v, i) => v + b.data[i]!) });
export const mul64 = (a: Nhwc, b: Nhwc): Nhwc => ({ shape: a.shape, data: a.data.map((v, i) => v * b.data[i]!) });

export function referenceMaxPool(x: Nhwc, kernel: number, stride: number): Nhwc {
  const [N, H, W, C] = x.shape;
  const Ho = Math.floor((H - kernel) / stride) + 1;
  const Wo = Math.floor((W - kernel) / stride) + 1;
  return makeNhwc([N, Ho, Wo, C], (n, oh, ow, c) => {
    let m = -Infinity;
    for (let i = 0; i < kernel; i++) for (let j = 0; j < kernel; j++) m = Math.max(m, at(x, n, oh * stride + i, ow * stride + j, c));
    return m;
  });
}

/** PyTorch's upsample_bilinear2d (align_corners=False, explicit size), written out per pixel. */
export function referenceBilinear(x: Nhwc, height: number, width: number): Nhwc {
  const [N, H, W, C] = x.shape;
  const coord = (o: number, inSize: number, outSize: number) => {
    const src = Math.max((inSize / outSize) * (o + 0.5) - 0.5, 0);
    const i0 = Math.floor(src);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    return [i0, i1, src - i0] as const;
  };
  return makeNhwc([N, height, width, C], (n, oh, ow, c) => {
    const [h0, h1, lh] = coord(oh, H, height);
    const [w0, w1, lw] = coord(ow, W, width);
    return (1 - lh) * ((1 - lw) * at(x, n, h0, w0, c) + lw * at(x, n, h0, w1, c)) + lh * ((1 - lw) * at(x, n, h1, w0, c) + lw * at(x, n, h1, w1, c));
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * A smooth stand-in for a real quantizer, with one learned variable, so that gradient checks
 * cross every conv's input and weight hooks without ReLU kinks: input softplus(x), weight
 * w·scale + 0.3·w².
 */
export const smoothQuantizers: ConvQuantizerFactory = (site) => {
  const scale = variableFrom(tf.scalar(1.2), true);
  const quantizer: ConvQuantizer = {
    input: (x) => tf.softplus(x),
    weight: (w) => tf.add(tf.mul(w, scale), tf.mul(tf.square(w), 0.3)),
    variables: () => new Map([['scale', scale]]),
    dispose: () => scale.dispose(),
  };
  void site;
  return quantizer;
};

/** Records the sites a factory was asked for, delegating to another factory. */
export function recordingFactory(inner: ConvQuantizerFactory, sites: string[]): ConvQuantizerFactory {
  return (site) => {
    sites.push(`${site.name}:${site.shape.kernelH}x${site.shape.kernelW}:${site.shape.inChannels}->${site.shape.outChannels}/${site.shape.groups}`);
    return inner(site);
  };
}
