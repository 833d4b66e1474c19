import type { ConvShape } from './primitives.js';
import type { tf } from './tf.js';

/**
 * What happens to a convolution's input and weight before the conv: the hook through which the
 * quantizers of docs/method.md §4 (quantization noise during the search, LSQ/HWGQ in QAT) enter every
 * conv of every op. Implementations live in @quantnas/quant; core-ops knows only this interface.
 */
export interface ConvQuantizer {
  /** The conv's input: ReLU at full precision, ReLU + noise in the search, HWGQ in QAT. */
  input(x: tf.Tensor4D, training: boolean): tf.Tensor4D;
  /** The conv's weight, [kh, kw, in/groups, out]. */
  weight(w: tf.Tensor4D, training: boolean): tf.Tensor4D;
  /** Learned quantizer parameters (LSQ steps), named relative to the quantizer. */
  variables(): ReadonlyMap<string, tf.Variable>;
  dispose(): void;
}

/** Describes the conv a quantizer is created for. */
export interface ConvSite {
  /** Dotted path of the conv, e.g. "cell0.body1.conv0". */
  readonly name: string;
  readonly shape: ConvShape;
}

/** Creates the quantizer of each conv as ops are built. */
export type ConvQuantizerFactory = (site: ConvSite) => ConvQuantizer;
