import type { ConvQuantizerFactory } from '../conv-quant.js';
import type { ForwardContext, Module } from '../module.js';
import { tf } from '../tf.js';
import { resizeBilinear } from './bilinear.js';
import { assertChannels, assertPositiveInteger, mergeVariables } from './checks.js';
import { createConv, type Conv } from './conv.js';
import { maxPool, validOutputSize } from './max-pool.js';

const POOL_KERNEL = 7;
const POOL_STRIDE = 3;
const STRIDED_KERNEL = 3;

/**
 * The smallest height or width ESA accepts: the stride-2 unpadded 3×3 conv must leave at least
 * the 7-pixel pooling window, floor((s − 3)/2) + 1 ≥ 7, so s ≥ 15.
 */
export const ESA_MIN_SIZE = 2 * POOL_KERNEL + 1;

export interface EsaConfig {
  /** Dotted path; convs are `${name}.conv1`, `.conv_f`, `.conv2`, `.conv_max`, `.conv3`, `.conv3_`, `.conv4` (RFDN's names). */
  readonly name: string;
  readonly channels: number;
  /** Quantizer of every conv; the rfdn space passes fixed 8-bit ones. */
  readonly quantizers: ConvQuantizerFactory;
  readonly seed: number;
  /** RFDN's convs have biases (the default); false gives bias-free convs as in docs/method.md §3. */
  readonly bias?: boolean;
}

/** Enhanced spatial attention (RFDN's ESA): `x · sigmoid(mask(x))`. */
export interface Esa extends Module {
  readonly name: string;
  readonly channels: number;
  /** f = floor(C/4), the width of the attention branch. */
  readonly reduced: number;
  readonly convs: readonly Conv[];
  /** Multiply-accumulates of one forward pass on an H×W input (per sample, bias ignored). */
  macs(height: number, width: number): number;
}

/**
 * RFDN's ESA, as the QuantNAS reference uses it (docs/method.md §6.1), with f = floor(C/4):
 *
 *   c1_ = conv1(x)            1×1, C → f
 *   c1  = conv2(c1_)          3×3, stride 2, no padding
 *   v   = maxPool(c1, 7, 3)   no padding
 *   v   = conv_max(v)         3×3 'same'
 *   c3  = conv3(v)            3×3 'same'
 *   c3  = conv3_(c3)          3×3 'same'
 *   c3  = bilinear(c3, H×W)   align_corners = false
 *   m   = sigmoid(conv4(c3 + conv_f(c1_)))   conv_f 1×1 f → f, conv4 1×1 f → C
 *   out = x · m
 *
 * RFDN applies ReLU after conv_max and conv3; here every conv's input passes through its
 * quantizer, which begins with ReLU (docs/method.md §2), so those ReLUs are implied and the inputs of
 * conv1, conv2, conv_f and conv4 are rectified too, as in the QuantNAS reference's quantized ESA.
 * Heights and widths below ESA_MIN_SIZE are rejected.
 */
export function createEsa(config: EsaConfig): Esa {
  const { name, channels, quantizers, seed } = config;
  const where = `ESA '${name}'`;
  assertPositiveInteger(where, 'channels', channels);
  const f = Math.floor(channels / 4);
  if (f < 1) throw new Error(`${where}: needs at least 4 channels (f = C/4), got ${channels}`);
  const bias = config.bias ?? true;
  const make = (suffix: string, inC: number, outC: number, kernel: number, stride = 1, padding: 'same' | 'valid' = 'same') =>
    createConv({ name: `${name}.${suffix}`, inChannels: inC, outChannels: outC, kernel, stride, padding, bias, quantizers, seed });
  const conv1 = make('conv1', channels, f, 1);
  const convF = make('conv_f', f, f, 1);
  const conv2 = make('conv2', f, f, STRIDED_KERNEL, 2, 'valid');
  const convMax = make('conv_max', f, f, 3);
  const conv3 = make('conv3', f, f, 3);
  const conv3b = make('conv3_', f, f, 3);
  const conv4 = make('conv4', f, channels, 1);
  const convs = [conv1, convF, conv2, convMax, conv3, conv3b, conv4];

  const checkSize = (height: number, width: number) => {
    if (height < ESA_MIN_SIZE || width < ESA_MIN_SIZE) {
      throw new Error(`${where}: input ${height}×${width} is too small; ESA needs at least ${ESA_MIN_SIZE}×${ESA_MIN_SIZE}`);
    }
  };

  return {
    name,
    channels,
    reduced: f,
    convs,
    macs(height: number, width: number): number {
      checkSize(height, width);
      const h2 = validOutputSize(height, STRIDED_KERNEL, 2);
      const w2 = validOutputSize(width, STRIDED_KERNEL, 2);
      const hp = validOutputSize(h2, POOL_KERNEL, POOL_STRIDE);
      const wp = validOutputSize(w2, POOL_KERNEL, POOL_STRIDE);
      const full = height * width;
      return (
        full * (conv1.macsPerPixel + convF.macsPerPixel + conv4.macsPerPixel) +
        h2 * w2 * conv2.macsPerPixel +
        hp * wp * (convMax.macsPerPixel + conv3.macsPerPixel + conv3b.macsPerPixel)
      );
    },
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      assertChannels(where, x, channels);
      const [, height, width] = x.shape;
      checkSize(height, width);
      return tf.tidy(() => {
        const c1a = conv1.apply(x, ctx);
        const pooled = maxPool(conv2.apply(c1a, ctx), POOL_KERNEL, POOL_STRIDE);
        const low = conv3b.apply(conv3.apply(convMax.apply(pooled, ctx), ctx), ctx);
        const up = resizeBilinear(low, height, width);
        const mask = tf.sigmoid(conv4.apply(tf.add(up, convF.apply(c1a, ctx)), ctx));
        return tf.mul(x, mask);
      });
    },
    variables() {
      const vars = new Map<string, tf.Variable>();
      for (const conv of convs) mergeVariables(where, vars, conv.variables());
      return vars;
    },
    dispose() {
      for (const conv of convs) conv.dispose();
    },
  };
}
