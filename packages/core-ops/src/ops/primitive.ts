import type { ConvQuantizerFactory } from '../conv-quant.js';
import type { ForwardContext, Module } from '../module.js';
import { parsePrimitive, primitiveConvs, type ConvShape, type Primitive, type PrimitiveId } from '../primitives.js';
import { tf } from '../tf.js';
import { assertChannels, assertPositiveInteger, mergeVariables } from './checks.js';
import { createConv, type Conv, type GroupedConvMethod } from './conv.js';

export interface PrimitiveConfig {
  /** Dotted path; convs are `${name}.conv0`, `${name}.conv1`. */
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** The search space's channel width C, the middle width of growth and factorized ops. */
  readonly width: number;
  readonly quantizers: ConvQuantizerFactory;
  readonly seed: number;
  readonly groupedConvMethod?: GroupedConvMethod;
  /** Scales the default initialisation of the op's last conv (a residual branch that starts near zero). */
  readonly outputInitScale?: number;
  /** Scales the default initialisation of every conv of the op (√6: He's variance-preserving bound under ReLU); combines with `outputInitScale`. */
  readonly initGain?: number;
}

/** One operation of docs/method.md §3 as a trainable module. */
export interface PrimitiveModule extends Module {
  readonly id: PrimitiveId;
  readonly primitive: Primitive;
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** In execution order; empty for skip_connect and zero. */
  readonly convs: readonly Conv[];
  /** MACs per output pixel: equals core-ops' primitiveMacsPerPixel for the same channels. */
  readonly macsPerPixel: number;
}

type Builder<K extends Primitive['kind']> = (
  op: Extract<Primitive, { kind: K }>,
  shapes: readonly ConvShape[],
  config: PrimitiveConfig,
) => (x: tf.Tensor4D, ctx: ForwardContext, convs: readonly Conv[]) => tf.Tensor4D;

const chain = (x: tf.Tensor4D, ctx: ForwardContext, convs: readonly Conv[]) => convs.reduce((y, conv) => conv.apply(y, ctx), x);

/**
 * The registry: one builder per primitive kind. The convs themselves come from `primitiveConvs`,
 * so a module's convolutions and the cost model cannot disagree.
 */
const BUILDERS: { readonly [K in Primitive['kind']]: Builder<K> } = {
  simple: () => chain,
  growth: () => chain,
  factorized: () => chain,
  // A clone, so that the caller may dispose the output without disposing its input.
  skip: () => (x) => x.clone(),
  // Zeros of the output shape, still connected to x so that a gradient through it is zero
  // rather than an error.
  zero: (_op, _shapes, config) => (x) =>
    tf.tidy(() => {
      const [n, h, w] = x.shape;
      const anchor = tf.slice(tf.zerosLike(x), [0, 0, 0, 0], [n, h, w, 1]);
      return tf.add(anchor, tf.zeros([1, 1, 1, config.outChannels]));
    }),
};

/**
 * Builds a primitive from its reference id (`simple_3x3`, `growth1_5x5`, `simple_3x3_grouped_2`,
 * `conv_3x1_1x3`, `skip_connect`, `zero`, …). Convs are bias-free, stride 1, 'same' padding, with
 * the quantizer the factory gives each (`${name}.conv${i}`).
 */
export function createPrimitive(id: PrimitiveId | string, config: PrimitiveConfig): PrimitiveModule {
  const primitive = parsePrimitive(id);
  const { name, inChannels, outChannels, width, quantizers, seed } = config;
  const where = `op '${name}' (${primitive.id})`;
  assertPositiveInteger(where, 'inChannels', inChannels);
  assertPositiveInteger(where, 'outChannels', outChannels);
  assertPositiveInteger(where, 'width', width);
  const shapes = primitiveConvs(primitive, inChannels, outChannels, width);
  const convs: Conv[] = [];
  try {
    shapes.forEach((shape, i) => {
      convs.push(
        createConv({
          name: `${name}.conv${i}`,
          inChannels: shape.inChannels,
          outChannels: shape.outChannels,
          kernel: [shape.kernelH, shape.kernelW],
          groups: shape.groups,
          quantizers,
          seed,
          ...(config.groupedConvMethod ? { method: config.groupedConvMethod } : {}),
          ...initScaleOf(config, i === shapes.length - 1),
        }),
      );
    });
  } catch (error) {
    for (const conv of convs) conv.dispose();
    throw error;
  }
  const forward = (BUILDERS[primitive.kind] as Builder<Primitive['kind']>)(primitive, shapes, config);
  return {
    id: primitive.id,
    primitive,
    name,
    inChannels,
    outChannels,
    convs,
    macsPerPixel: convs.reduce((sum, conv) => sum + conv.macsPerPixel, 0),
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      assertChannels(where, x, inChannels);
      return tf.tidy(() => forward(x, ctx, convs));
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

function initScaleOf(config: PrimitiveConfig, last: boolean): { initScale?: number } {
  const scale = (config.initGain ?? 1) * (last ? (config.outputInitScale ?? 1) : 1);
  return scale !== 1 ? { initScale: scale } : {};
}
