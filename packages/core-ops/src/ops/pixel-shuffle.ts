import { tf } from '../tf.js';
import { assertPositiveInteger } from './checks.js';

/**
 * PyTorch's `pixel_shuffle` on NHWC: [N, H, W, C·r²] → [N, H·r, W·r, C], where output channel c at
 * sub-pixel (i, j) of a cell comes from input channel c·r² + i·r + j. Built from reshape and
 * transpose because `tf.depthToSpace` has no gradient (and uses a different channel order).
 * The transpose is rank 5 (batch and rows merged) so that every backend can run it.
 */
export function pixelShuffle(x: tf.Tensor4D, scale: number): tf.Tensor4D {
  assertPositiveInteger('pixelShuffle', 'scale', scale);
  const [n, h, w, c] = x.shape;
  const r2 = scale * scale;
  if (c % r2 !== 0) throw new Error(`pixelShuffle: ${c} channels are not divisible by scale² = ${r2}`);
  const out = c / r2;
  return tf.tidy(() => {
    const cells = tf.reshape(x, [n * h, w, out, scale, scale]); // [NH, W, C, i, j]
    const rows = tf.transpose(cells, [0, 3, 1, 4, 2]); // [NH, i, W, j, C]
    return tf.reshape(rows, [n, h * scale, w * scale, out]);
  });
}
