import type { ConvQuantizer, ConvQuantizerFactory } from '../conv-quant.js';
import { tf } from '../tf.js';

const NO_VARIABLES: ReadonlyMap<string, tf.Variable> = new Map();

/**
 * Full precision (docs/method.md §4.1, "32 bits"): the conv input goes through ReLU, as every quantized
 * activation is non-negative, and the weight is used as is. Stateless, so one instance serves
 * every conv; disposing it does nothing.
 */
export const plainConvQuantizer: ConvQuantizer = {
  input: (x) => tf.relu(x),
  weight: (w) => w,
  variables: () => NO_VARIABLES,
  dispose: () => {},
};

/** A factory that gives every conv the full-precision quantizer. */
export const plainQuantizers: ConvQuantizerFactory = () => plainConvQuantizer;
