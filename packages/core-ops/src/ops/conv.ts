import type { ConvQuantizer, ConvQuantizerFactory } from '../conv-quant.js';
import type { ForwardContext, Module } from '../module.js';
import { convMacsPerPixel, type ConvShape } from '../primitives.js';
import { tf } from '../tf.js';
import { assertChannels, assertPositiveInteger, variableFrom } from './checks.js';
import { seededUniform } from './seeded-random.js';

/**
 * How a grouped conv runs on tfjs, which has no `groups` argument:
 * - `split`: one conv per group on channel slices, outputs concatenated;
 * - `blockDiagonal`: one dense conv with a block-diagonal filter (zeros between groups), so
 *   `groups`× the MACs but a single kernel call;
 * - `depthwise`: tfjs' depthwise conv, only when groups = input channels;
 * - `auto`: depthwise where it applies; else block-diagonal up to `BLOCK_DIAGONAL_MAX_IN` input
 *   channels (narrow convs: the split's slicing and concatenation cost more than the zero blocks'
 *   MACs), split above (faster on cpu and wasm at 48 channels; see README).
 */
export type GroupedConvMethod = 'auto' | 'split' | 'blockDiagonal' | 'depthwise';

/** Widest input for which `auto` picks the block-diagonal method. */
export const BLOCK_DIAGONAL_MAX_IN = 24;
export type ConvPadding = 'same' | 'valid';

export interface Conv2dOptions {
  readonly groups?: number;
  readonly stride?: number;
  readonly padding?: ConvPadding;
  readonly method?: GroupedConvMethod;
}

/**
 * A 2-D conv with PyTorch's `groups` semantics on NHWC tensors. `w` is [kh, kw, in/groups, out];
 * output channels are split into `groups` consecutive blocks, block g reading input channels
 * [g·in/G, (g+1)·in/G). Differentiable with respect to `x` and `w` by every method.
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, options: Conv2dOptions = {}): tf.Tensor4D {
  const groups = options.groups ?? 1;
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 'same';
  const [, , inPerGroup, outChannels] = w.shape;
  const inChannels = x.shape[3];
  if (inPerGroup * groups !== inChannels || outChannels % groups !== 0) {
    throw new Error(`conv2d: filter [${w.shape.join(', ')}] with ${groups} group(s) does not fit ${inChannels} input channels`);
  }
  if (groups === 1) return tf.conv2d<tf.Tensor4D>(x, w, stride, padding);
  let method = options.method ?? 'auto';
  if (method === 'auto') method = groups === inChannels ? 'depthwise' : inChannels <= BLOCK_DIAGONAL_MAX_IN ? 'blockDiagonal' : 'split';
  switch (method) {
    case 'split':
      return tf.tidy(() => {
        const xs = tf.split<tf.Tensor4D>(x, groups, 3);
        const ws = tf.split<tf.Tensor4D>(w, groups, 3);
        return tf.concat<tf.Tensor4D>(
          xs.map((xg, g) => tf.conv2d<tf.Tensor4D>(xg, ws[g]!, stride, padding)),
          3,
        );
      });
    case 'blockDiagonal':
      return tf.tidy(() => tf.conv2d<tf.Tensor4D>(x, blockDiagonalFilter(w, groups), stride, padding));
    case 'depthwise': {
      if (groups !== inChannels) {
        throw new Error(`conv2d: the depthwise method needs groups = input channels, got ${groups} groups for ${inChannels}`);
      }
      // Output channel o = i·m + k reads input i: exactly tfjs' depthwise layout [kh, kw, in, m].
      const [kh, kw] = w.shape;
      return tf.tidy(() => tf.depthwiseConv2d<tf.Tensor4D>(x, tf.reshape<tf.Rank.R4>(w, [kh, kw, inChannels, outChannels / inChannels]), stride, padding));
    }
  }
}

/** The dense [kh, kw, in, out] filter equal to a grouped one, zeros outside the diagonal blocks. */
export function blockDiagonalFilter(w: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [, , inPerGroup, out] = w.shape;
  const outPerGroup = out / groups;
  const inChannels = inPerGroup * groups;
  const mask = new Float32Array(inChannels * out);
  for (let i = 0; i < inChannels; i++) {
    const g = Math.floor(i / inPerGroup);
    mask.fill(1, i * out + g * outPerGroup, i * out + (g + 1) * outPerGroup);
  }
  return tf.tidy(() => tf.mul<tf.Tensor4D>(tf.tile(w, [1, 1, groups, 1]), tf.tensor4d(mask, [1, 1, inChannels, out])));
}

/**
 * PyTorch's default conv initialisation (kaiming_uniform with a = √5): weights and bias uniform in
 * ±1/√fan_in, fan_in = kh·kw·in/groups. Drawn from (seed, variable name), so reproducible.
 */
export function kaimingUniform(seed: number, key: string, shape: readonly number[], fanIn: number, scale = 1): tf.Tensor {
  const bound = scale / Math.sqrt(fanIn);
  const count = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(seededUniform(seed, key, count, -bound, bound), [...shape]);
}

export interface ConvConfig {
  /** Dotted path; variables are `${name}.weight`, `${name}.bias`, `${name}.quantizer.*`. */
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Square K or [kh, kw]. */
  readonly kernel: number | readonly [number, number];
  readonly groups?: number;
  readonly stride?: number;
  readonly padding?: ConvPadding;
  readonly bias?: boolean;
  /** Called once for this conv; the conv owns (and disposes) the quantizer it returns. */
  readonly quantizers: ConvQuantizerFactory;
  readonly seed: number;
  readonly method?: GroupedConvMethod;
  /** Initial weights, [kh, kw, in/groups, out] row-major; default kaiming-uniform from (seed, name). */
  readonly initialWeight?: Float32Array;
  /** Multiplies the default initialisation (not `initialWeight`): < 1 starts a residual branch near zero. */
  readonly initScale?: number;
  /** False keeps the weights (and bias) as initialised: their variables are not trainable. Default true. */
  readonly trainable?: boolean;
}

/** A conv layer: `out = conv(quantizer.input(x), quantizer.weight(w)) + b`. */
export interface Conv extends Module {
  readonly name: string;
  readonly shape: ConvShape;
  readonly stride: number;
  readonly padding: ConvPadding;
  /** [kh, kw, in/groups, out]. */
  readonly weight: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  readonly quantizer: ConvQuantizer;
  /** MACs per output pixel (bias ignored), as core-ops' cost model counts them. */
  readonly macsPerPixel: number;
}

export function createConv(config: ConvConfig): Conv {
  const { name, inChannels, outChannels, seed } = config;
  const where = `conv '${name}'`;
  const [kernelH, kernelW] = typeof config.kernel === 'number' ? [config.kernel, config.kernel] : config.kernel;
  const groups = config.groups ?? 1;
  const stride = config.stride ?? 1;
  const padding = config.padding ?? 'same';
  for (const [what, v] of [
    ['inChannels', inChannels],
    ['outChannels', outChannels],
    ['kernel height', kernelH],
    ['kernel width', kernelW],
    ['groups', groups],
    ['stride', stride],
  ] as const) {
    assertPositiveInteger(where, what, v);
  }
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`${where}: channels ${inChannels} → ${outChannels} are not divisible by ${groups} groups`);
  }
  const shape: ConvShape = { kernelH, kernelW, inChannels, outChannels, groups };
  const fanIn = kernelH * kernelW * (inChannels / groups);
  // Before the variables, so that a factory that throws leaves nothing allocated.
  const quantizer = config.quantizers({ name, shape });
  const weightShape: [number, number, number, number] = [kernelH, kernelW, inChannels / groups, outChannels];
  if (config.initialWeight && config.initialWeight.length !== weightShape.reduce((a, b) => a * b, 1)) {
    quantizer.dispose();
    throw new Error(
      `${where}: initialWeight has ${config.initialWeight.length} values, the filter [${weightShape.join(', ')}] needs ${weightShape.reduce((a, b) => a * b, 1)}`,
    );
  }
  const weight = variableFrom(
    config.initialWeight
      ? tf.tensor4d(config.initialWeight, weightShape)
      : (kaimingUniform(seed, `${name}.weight`, weightShape, fanIn, config.initScale) as tf.Tensor4D),
    config.trainable ?? true,
  );
  const bias = config.bias ? variableFrom(kaimingUniform(seed, `${name}.bias`, [outChannels], fanIn) as tf.Tensor1D, config.trainable ?? true) : null;
  const method = config.method ?? 'auto';
  const options: Conv2dOptions = { groups, stride, padding, method };

  return {
    name,
    shape,
    stride,
    padding,
    weight,
    bias,
    quantizer,
    macsPerPixel: convMacsPerPixel(shape),
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      assertChannels(where, x, inChannels);
      return tf.tidy(() => {
        const y = conv2d(quantizer.input(x, ctx.training), quantizer.weight(weight, ctx.training), options);
        return bias ? tf.add(y, bias) : y;
      });
    },
    variables() {
      const vars = new Map<string, tf.Variable>([[`${name}.weight`, weight]]);
      if (bias) vars.set(`${name}.bias`, bias);
      for (const [key, v] of quantizer.variables()) vars.set(`${name}.quantizer.${key}`, v);
      return vars;
    },
    dispose() {
      weight.dispose();
      bias?.dispose();
      quantizer.dispose();
    },
  };
}
