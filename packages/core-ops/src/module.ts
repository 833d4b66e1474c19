import type { tf } from './tf.js';

/** Whether a forward pass trains (batch statistics, noise) or infers (running statistics). */
export interface ForwardContext {
  readonly training: boolean;
}

/**
 * A trainable piece of network: ops, quantizers, ADQ units and whole networks implement it.
 * Variables are named by dotted paths ("cell0.body1.conv0.weight") so that checkpoints, exports
 * and optimiser state can address them; the names are stable for a given structure.
 */
export interface Module {
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
  /** Every variable the module owns, trainable or not (BN running statistics are not). */
  variables(): ReadonlyMap<string, tf.Variable>;
  /** Releases the variables. */
  dispose(): void;
}

/** The trainable subset of a module's variables, in a stable order. */
export function trainableVariables(module: Module): tf.Variable[] {
  return [...module.variables().values()].filter((v) => v.trainable);
}
