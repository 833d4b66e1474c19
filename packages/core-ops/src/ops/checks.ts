import { tf } from '../tf.js';

/** Throws unless `x` is NHWC with `channels` channels; the message names the op and both counts. */
export function assertChannels(where: string, x: tf.Tensor, channels: number): void {
  if (x.rank !== 4) throw new Error(`${where}: expected an NHWC tensor, got shape [${x.shape.join(', ')}]`);
  if (x.shape[3] !== channels) {
    throw new Error(`${where}: expected ${channels} input channels, got ${x.shape[3]} (shape [${x.shape.join(', ')}])`);
  }
}

export function assertPositiveInteger(where: string, what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${where}: ${what} must be a positive integer, got ${value}`);
}

/** Merges named variable maps, refusing two variables under one name. */
export function mergeVariables(where: string, target: Map<string, tf.Variable>, source: ReadonlyMap<string, tf.Variable>): void {
  for (const [key, variable] of source) {
    if (target.has(key)) throw new Error(`${where}: two variables are named '${key}'`);
    target.set(key, variable);
  }
}

/** A variable holding `init`, which is released: `tf.variable` shares the data but does not take ownership. */
export function variableFrom<R extends tf.Rank>(init: tf.Tensor<R>, trainable: boolean): tf.Variable<R> {
  const v = tf.variable(init, trainable);
  init.dispose();
  return v;
}
