import { tf } from '../tf.js';
import { assertPositiveInteger } from './checks.js';

/** Output size of a 'valid' (unpadded, floor mode) window: PyTorch's max_pool2d / conv default. */
export function validOutputSize(size: number, kernel: number, stride: number): number {
  return size < kernel ? 0 : Math.floor((size - kernel) / stride) + 1;
}

/** Max pooling without padding, as PyTorch's `F.max_pool2d(x, kernel, stride)` (floor mode). */
export function maxPool(x: tf.Tensor4D, kernel: number, stride: number): tf.Tensor4D {
  assertPositiveInteger('maxPool', 'kernel', kernel);
  assertPositiveInteger('maxPool', 'stride', stride);
  const [, h, w] = x.shape;
  if (h < kernel || w < kernel) throw new Error(`maxPool: a ${h}×${w} input is smaller than the ${kernel}×${kernel} window`);
  return tf.maxPool(x, kernel, stride, 'valid');
}
