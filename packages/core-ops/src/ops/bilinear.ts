import { tf } from '../tf.js';
import { assertPositiveInteger } from './checks.js';

/**
 * The 1-D interpolation matrix [out, in] of PyTorch's `F.interpolate(mode='bilinear',
 * align_corners=False)` with an explicit output size: source position (o + ½)·in/out − ½, clamped
 * at 0, blended between floor and the next sample (the last sample repeats at the far edge).
 */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const lambda = src - i0;
    m[o * inSize + i0]! += 1 - lambda;
    m[o * inSize + i1]! += lambda;
  }
  return m;
}

/**
 * Bilinear resize of NHWC to [height, width], matching PyTorch's align_corners=False. Written as
 * two small matrix products rather than `tf.image.resizeBilinear`, because the cpu backend's
 * ResizeBilinearGrad ignores `halfPixelCenters` (wrong gradients for this mode) and plain matMul
 * has a gradient on every backend.
 */
export function resizeBilinear(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  assertPositiveInteger('resizeBilinear', 'height', height);
  assertPositiveInteger('resizeBilinear', 'width', width);
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const mh = tf.tensor2d(bilinearMatrix(h, height), [height, h]);
    const mw = tf.tensor2d(bilinearMatrix(w, width), [width, w]);
    // Rows: [H, W·N·C] → [height, W·N·C].
    const byRows = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [h, w * n * c]);
    const rows = tf.reshape(tf.matMul(mh, byRows), [height, w, n * c]);
    // Columns: [W, height·N·C] → [width, height·N·C].
    const byCols = tf.reshape(tf.transpose(rows, [1, 0, 2]), [w, height * n * c]);
    const cols = tf.reshape<tf.Rank.R4>(tf.matMul(mw, byCols), [width, height, n, c]);
    return tf.transpose(cols, [2, 1, 0, 3]);
  });
}
