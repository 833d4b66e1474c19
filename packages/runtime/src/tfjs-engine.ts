/**
 * An exported model (.qnas) run on tfjs (wasm backend, XNNPACK), whole image at a time, in two
 * precisions:
 *
 * - `fake-quant`: the integer model simulated in float32. uint8 tensors are held as their codes
 *   (integers in float32); a quantize layer is `clamp(roundHalfEven(f32(x / step)), 0, 2^bits − 1)`;
 *   a conv convolves the codes with the integer weights (every product and partial sum is an
 *   integer below 2^24, so the accumulator is exact) and applies the model's per-channel
 *   requantisation `f32(f32(acc · M_c) + B_c)`, rounded half to even and clipped for a uint8
 *   output. That is `q·s_x ⊛ w·s_w + bias` divided by the output step, i.e. dequantized weights on
 *   dequantized activations, computed in the order that keeps it exact. ADQ's σ (in double, over
 *   the whole tensor), the sigmoid (`Math.exp` in double) and the bilinear taps follow the
 *   runtime's specification, so the result equals the integer engine's byte for byte except where
 *   float32 cannot follow it: an accumulator of 2^24 or more, or a quantizer step that is not a
 *   float32 value (tfjs divides by f32(step), the specification by the double), which can move a
 *   code by one when x/step lies within an ulp of a rounding tie.
 * - `fp32`: the same network at full precision, what a float deployment computes: weights
 *   dequantized (q · s_w), quantize layers and uint8 conv outputs as their ReLU/clip to
 *   [0, step·(2^bits − 1)] without rounding, σ with tf.moments, tfjs's sigmoid.
 *
 * Untiled: memory grows with the image (tensors are freed after their last reader), which is fine
 * for the benchmark sets.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { LayerOp } from './artifact-header.js';
import { inferSizes, type GraphLayer, type ModelGraph } from './graph.js';
import type { RgbImage } from './image.js';
import { adqFactor, bilinearTaps, outputByte } from './layer-math.js';

export type TfjsPrecision = 'fake-quant' | 'fp32';

/** The tfjs namespace the engine runs on, with its backend already started (the caller's one tfjs instance). */
export type Tf = typeof tfc;
type Tensor4D = tfc.Tensor4D;

export interface TfjsEngine {
  readonly precision: TfjsPrecision;
  readonly scale: number;
  /**
   * The model's float output, [1, H·scale, W·scale, 3], for an input [1, H, W, 3] holding
   * f32(u / 255). The caller disposes both tensors.
   */
  forward(input: Tensor4D): Promise<Tensor4D>;
  /** RGB bytes in, RGB bytes out, by the runtime's rules (input u/255, output round half to even of x·255, clamped). */
  upscale(image: RgbImage): Promise<RgbImage>;
  /** Frees the weights. */
  dispose(): void;
}

interface ConvPlan {
  readonly layer: GraphLayer;
  /** Dense: one HWIO filter (block-diagonal for groups); depthwise: [kh, kw, cin, multiplier]. */
  readonly mode: 'dense' | 'depthwise';
  readonly filters: tfc.Tensor4D[];
  /** fake-quant: M_c and B_c; fp32: bias only (the scale is in the filter). */
  readonly multiplier?: tfc.Tensor1D;
  readonly offset: tfc.Tensor1D;
  /** Upper clip of a uint8 output (codes in fake-quant, values in fp32); undefined for float32. */
  readonly max?: number;
}

/** What one layer's tfjs op reads: the engine's state, the layer and its first input. */
interface TfjsStep {
  readonly tf: Tf;
  readonly graph: ModelGraph;
  readonly gl: GraphLayer;
  readonly x: Tensor4D;
  readonly fake: boolean;
  readonly values: ReadonlyMap<string, Tensor4D>;
  readonly sizes: ReadonlyMap<string, { h: number; w: number }>;
  readonly convs: ReadonlyMap<number, ConvPlan>;
  readonly affines: ReadonlyMap<number, { scale: tfc.Tensor1D; shift: tfc.Tensor1D }>;
}

type OpOf<K extends LayerOp> = GraphLayer['layer'] & { readonly op: K };

/** Every layer op on tfjs: a new op of the format is one entry here (the compiler asks for it). */
const TFJS_OPS: { readonly [K in LayerOp]: (s: TfjsStep, l: OpOf<K>) => Tensor4D | Promise<Tensor4D> } = {
  conv: (s) => runConv(s.tf, s.convs.get(s.gl.index)!, s.x, s.fake),
  add: (s, l) => s.tf.add<Tensor4D>(s.x, s.values.get(l.inputs[1]!)!),
  mul: (s, l) => s.tf.mul<Tensor4D>(s.x, s.values.get(l.inputs[1]!)!),
  concat: (s, l) =>
    s.tf.concat<Tensor4D>(
      l.inputs.map((n) => s.values.get(n)!),
      3,
    ),
  pixel_shuffle: (s, l) => pixelShuffle(s.tf, s.x, l.factor),
  repeat_channels: (s, l) => s.tf.tile<Tensor4D>(s.x, [1, 1, 1, l.times]),
  max_pool: (s, l) => s.tf.maxPool(s.x, l.kernel, l.stride, 'valid'),
  bilinear_resize: (s, l) => {
    const to = s.sizes.get(l.sizeOf)!;
    return bilinear(s.tf, s.x, to.h, to.w);
  },
  sigmoid: (s) => (s.fake ? exactSigmoid(s.tf, s.x) : s.tf.sigmoid<Tensor4D>(s.x)),
  clamp: (s, l) => s.tf.clipByValue<Tensor4D>(s.x, l.min, l.max),
  affine: (s) => {
    const a = s.affines.get(s.gl.index)!;
    return s.tf.tidy(() => s.tf.add<Tensor4D>(s.tf.mul(s.x, a.scale), a.shift));
  },
  adq_scale: async (s, l) => {
    const { tf } = s;
    const statTensor = s.graph.tensors.get(l.statisticsOf)!;
    const stat = s.values.get(l.statisticsOf)!;
    let phi: number | tfc.Tensor;
    if (s.fake) {
      const step = statTensor.info.dtype === 'uint8' ? statTensor.info.step : 1;
      phi = adqFactor((await stat.data()) as Float32Array, step, l.deviation, l.slope, l.offset);
    } else {
      phi = tf.tidy(() => {
        let variance = tf.moments(stat).variance;
        const n = stat.size;
        if (l.deviation === 'sample') variance = n > 1 ? tf.mul(variance, n / (n - 1)) : tf.zerosLike(variance);
        return tf.add(tf.mul(tf.sqrt(variance), l.slope), l.offset);
      });
    }
    const y = tf.mul(s.x, phi) as Tensor4D;
    if (typeof phi !== 'number') phi.dispose();
    return y;
  },
  quantize: (s, l) => {
    const { tf } = s;
    const info = s.graph.tensors.get(l.output)!.info as { step: number; bits: number };
    const max = 2 ** info.bits - 1;
    return s.fake
      ? tf.tidy(() => tf.clipByValue<Tensor4D>(tf.round(tf.div<Tensor4D>(s.x, info.step)), 0, max))
      : tf.clipByValue<Tensor4D>(s.x, 0, info.step * max);
  },
};

/**
 * Builds the engine for a validated model (`validateArtifact`) on the caller's tfjs (its backend
 * started; the CLI passes @quantnas/core-ops' instance on wasm).
 */
export async function createTfjsEngine(tf: Tf, graph: ModelGraph, precision: TfjsPrecision): Promise<TfjsEngine> {
  if (precision !== 'fake-quant' && precision !== 'fp32') throw new RangeError(`unknown precision '${String(precision)}'`);
  const fake = precision === 'fake-quant';
  const convs = new Map<number, ConvPlan>();
  const affines = new Map<number, { scale: tfc.Tensor1D; shift: tfc.Tensor1D }>();
  for (const gl of graph.layers) {
    if (gl.conv) convs.set(gl.index, planConv(tf, graph, gl, fake));
    if (gl.affine) affines.set(gl.index, { scale: tf.tensor1d(gl.affine.scale), shift: tf.tensor1d(gl.affine.shift) });
  }
  const lastUse = lastReaders(graph);
  const scale = graph.header.scale;

  async function forward(input: Tensor4D): Promise<Tensor4D> {
    const [, height, width, channels] = input.shape;
    if (channels !== 3) throw new RangeError(`input must have 3 channels, got ${channels}`);
    const sizes = inferSizes(graph, height, width);
    const values = new Map<string, Tensor4D>([[graph.header.input, input]]);
    const release = (index: number) => {
      for (const [name, last] of lastUse) {
        if (last !== index || name === graph.header.input || name === graph.header.output) continue;
        values.get(name)?.dispose();
        values.delete(name);
      }
    };
    try {
      for (const gl of graph.layers) {
        const l = gl.layer;
        const x = values.get(l.inputs[0]!)!;
        const op = TFJS_OPS[l.op] as (s: TfjsStep, l: GraphLayer['layer']) => Tensor4D | Promise<Tensor4D>;
        const y = await op({ tf, graph, gl, x, fake, values, sizes, convs, affines }, l);
        values.set(l.output, y);
        release(gl.index);
      }
      const out = values.get(graph.header.output)!;
      values.delete(graph.header.output);
      return out;
    } finally {
      for (const [name, t] of values) if (name !== graph.header.input) t.dispose();
    }
  }

  return {
    precision,
    scale,
    forward,
    async upscale(image: RgbImage): Promise<RgbImage> {
      const { width, height, data } = image;
      if (data.length !== width * height * 3) throw new RangeError(`upscale: data must be ${width}×${height}×3 bytes`);
      // Plain loops: TypedArray.from with a map function is an order of magnitude slower.
      const pixels = new Float32Array(data.length);
      for (let i = 0; i < data.length; i++) pixels[i] = data[i]! / 255;
      const input = tf.tensor4d(pixels, [1, height, width, 3]);
      let out: Tensor4D | undefined;
      try {
        out = await forward(input);
        const values = (await out.data()) as Float32Array;
        const bytes = new Uint8Array(values.length);
        for (let i = 0; i < values.length; i++) bytes[i] = outputByte(values[i]!);
        return { width: width * scale, height: height * scale, channels: 3, data: bytes };
      } finally {
        input.dispose();
        out?.dispose();
      }
    },
    dispose() {
      for (const c of convs.values()) tf.dispose([...c.filters, c.offset, ...(c.multiplier ? [c.multiplier] : [])]);
      for (const a of affines.values()) tf.dispose([a.scale, a.shift]);
      convs.clear();
      affines.clear();
    },
  };
}

function planConv(tf: Tf, graph: ModelGraph, gl: GraphLayer, fake: boolean): ConvPlan {
  const l = gl.layer;
  const conv = gl.conv!;
  if (l.op !== 'conv') throw new Error('not a conv');
  const inInfo = graph.tensors.get(l.inputs[0]!)!.info as { step: number; channels: number };
  const outInfo = graph.tensors.get(l.output)!.info;
  const cin = inInfo.channels;
  const cout = conv.multipliers.length;
  const [kh, kw] = l.kernel;
  const groups = l.groups;
  const inG = cin / groups;
  const outG = cout / groups;
  const sy = outInfo.dtype === 'uint8' ? outInfo.step : 1;
  // fake-quant: integer weights, the scale applied to the accumulator. fp32: q · s_w with
  // s_w = M_c · s_y / s_x (M_c = f32(s_x · s_w / s_y)), bias = B_c · s_y.
  const weightScale = (o: number) => (fake ? 1 : (conv.multipliers[o]! * sy) / inInfo.step);
  const at = (o: number, t: number, i: number) => conv.weights[(o * kh * kw + t) * inG + i]! * weightScale(o);
  let mode: ConvPlan['mode'];
  const filters: tfc.Tensor4D[] = [];
  if (groups === 1) {
    mode = 'dense';
    const hwio = new Float32Array(kh * kw * cin * cout);
    for (let o = 0; o < cout; o++) for (let t = 0; t < kh * kw; t++) for (let i = 0; i < cin; i++) hwio[(t * cin + i) * cout + o] = at(o, t, i);
    filters.push(tf.tensor4d(hwio, [kh, kw, cin, cout]));
  } else if (inG === 1) {
    // Output channel o reads input channel floor(o / outG): tfjs's depthwise order (i · multiplier + j).
    mode = 'depthwise';
    const f = new Float32Array(kh * kw * cin * outG);
    for (let o = 0; o < cout; o++) for (let t = 0; t < kh * kw; t++) f[(t * cin + Math.floor(o / outG)) * outG + (o % outG)] = at(o, t, 0);
    filters.push(tf.tensor4d(f, [kh, kw, cin, outG]));
  } else {
    // One dense conv with a block-diagonal filter: faster on XNNPACK than a conv per group, and
    // exact in fake-quant (the zeros add nothing to the integer sums).
    mode = 'dense';
    const hwio = new Float32Array(kh * kw * cin * cout);
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / outG);
      for (let t = 0; t < kh * kw; t++) for (let i = 0; i < inG; i++) hwio[(t * cin + g * inG + i) * cout + o] = at(o, t, i);
    }
    filters.push(tf.tensor4d(hwio, [kh, kw, cin, cout]));
  }
  const max = conv.kind === 'uint8' ? (fake ? conv.max : sy * conv.max) : undefined;
  return {
    layer: gl,
    mode,
    filters,
    ...(fake ? { multiplier: tf.tensor1d(conv.multipliers) } : {}),
    offset: tf.tensor1d(fake ? conv.offsets : Float32Array.from(conv.offsets, (b) => b * sy)),
    ...(max !== undefined ? { max } : {}),
  };
}

function runConv(tf: Tf, plan: ConvPlan, x: Tensor4D, fake: boolean): Tensor4D {
  const l = plan.layer.layer;
  if (l.op !== 'conv') throw new Error('not a conv');
  return tf.tidy(() => {
    let acc: Tensor4D;
    if (plan.mode === 'dense') acc = tf.conv2d(x, plan.filters[0]!, l.stride, l.padding);
    else acc = tf.depthwiseConv2d(x, plan.filters[0]!, l.stride, l.padding);
    let y: Tensor4D = fake ? tf.add(tf.mul(acc, plan.multiplier!), plan.offset) : tf.add(acc, plan.offset);
    if (plan.max !== undefined) y = tf.clipByValue(fake ? tf.round(y) : y, 0, plan.max);
    return y;
  });
}

/** PyTorch order: output channel c at sub-pixel (i, j) is input channel c·r² + i·r + j. */
function pixelShuffle(tf: Tf, x: Tensor4D, r: number): Tensor4D {
  const [, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [1, h, w, c / (r * r), r, r]), [0, 1, 4, 2, 5, 3]), [1, h * r, w * r, c / (r * r)]));
}

/**
 * Bilinear resize, align_corners false, with the runtime's taps and its order of float32
 * operations: top = f32(a·w0x) + f32(b·w1x), likewise bottom, y = f32(top·w0y) + f32(bottom·w1y).
 */
function bilinear(tf: Tf, x: Tensor4D, outH: number, outW: number): Tensor4D {
  const [, inH, inW] = x.shape;
  const ty = bilinearTaps(inH, outH);
  const tx = bilinearTaps(inW, outW);
  return tf.tidy(() => {
    const w0x = tf.tensor4d(tx.w0, [1, 1, outW, 1]);
    const w1x = tf.tensor4d(tx.w1, [1, 1, outW, 1]);
    const row = (index: Int32Array) => {
      const r = tf.gather(x, tf.tensor1d(index, 'int32'), 1);
      return tf.add(tf.mul(tf.gather(r, tf.tensor1d(tx.i0, 'int32'), 2), w0x), tf.mul(tf.gather(r, tf.tensor1d(tx.i1, 'int32'), 2), w1x));
    };
    const top = row(ty.i0);
    const bottom = row(ty.i1);
    return tf.add(tf.mul(top, tf.tensor4d(ty.w0, [1, outH, 1, 1])), tf.mul(bottom, tf.tensor4d(ty.w1, [1, outH, 1, 1]))) as Tensor4D;
  });
}

/** f32(1 / (1 + exp(−x))) in double, as the runtime computes it. */
async function exactSigmoid(tf: Tf, x: Tensor4D): Promise<Tensor4D> {
  const v = (await x.data()) as Float32Array;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = 1 / (1 + Math.exp(-v[i]!));
  return tf.tensor4d(out, x.shape);
}

/** The layer index after which nothing reads each tensor (values and ADQ statistics). */
function lastReaders(graph: ModelGraph): Map<string, number> {
  const last = new Map<string, number>();
  for (const gl of graph.layers) {
    const l = gl.layer;
    for (const name of l.inputs) last.set(name, gl.index);
    if (l.op === 'adq_scale') last.set(l.statisticsOf, Math.max(last.get(l.statisticsOf) ?? -1, gl.index));
  }
  return last;
}

/** Multiply-accumulates of one forward pass at height × width (every conv, at its real output size). */
export function graphMacs(graph: ModelGraph, height: number, width: number): number {
  const sizes = inferSizes(graph, height, width);
  let macs = 0;
  for (const gl of graph.layers) {
    const l = gl.layer;
    if (l.op !== 'conv') continue;
    const { h, w } = sizes.get(l.output)!;
    const cin = graph.tensors.get(l.inputs[0]!)!.info.channels;
    const cout = graph.tensors.get(l.output)!.info.channels;
    macs += h * w * cout * l.kernel[0] * l.kernel[1] * (cin / l.groups);
  }
  return macs;
}
