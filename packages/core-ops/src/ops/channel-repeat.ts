import { tf } from '../tf.js';
import { assertPositiveInteger } from './checks.js';

/**
 * PyTorch's `x.repeat(1, times, 1, 1)` on NHWC: the whole channel block is tiled, so output
 * channel k is input channel k mod C (for RGB: R, G, B, R, G, B, …), not each channel repeated in
 * place (R, R, …, G, G, …, which is `repeat_interleave`).
 */
export function repeatChannels(x: tf.Tensor4D, times: number): tf.Tensor4D {
  assertPositiveInteger('repeatChannels', 'times', times);
  return tf.tile(x, [1, 1, 1, times]);
}

/**
 * `y + repeatChannels(x, y.channels / x.channels)` without materialising the repeated tensor: a
 * broadcast add over a [.., times, C] view, cheaper than tiling on wasm (docs/design.md, "Training on
 * these CPUs").
 */
export function addRepeatedChannels(y: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, cy] = y.shape;
  const cx = x.shape[3];
  if (x.shape[0] !== n || x.shape[1] !== h || x.shape[2] !== w || cy % cx !== 0) {
    throw new Error(`addRepeatedChannels: cannot add [${x.shape.join(', ')}] repeated along channels to [${y.shape.join(', ')}]`);
  }
  return tf.tidy(() => tf.reshape(tf.add(tf.reshape(y, [n, h, w, cy / cx, cx]), tf.reshape(x, [n, h, w, 1, cx])), [n, h, w, cy]));
}
