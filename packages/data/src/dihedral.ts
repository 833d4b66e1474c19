import { createImage, type ImageU8 } from './image.js';

/**
 * The eight flips and rotations of the square used for training augmentation. The patch sampler
 * applies them with an index map while it copies; these whole-image versions define what that map
 * must do and are what its tests compare against.
 */

/** Mirrors left to right. */
export function flipHorizontal(img: ImageU8): ImageU8 {
  return remap(img, img.width, img.height, (x, y) => [img.width - 1 - x, y]);
}

/** Mirrors top to bottom. */
export function flipVertical(img: ImageU8): ImageU8 {
  return remap(img, img.width, img.height, (x, y) => [x, img.height - 1 - y]);
}

/** Swaps rows and columns (mirror about the main diagonal). */
export function transpose(img: ImageU8): ImageU8 {
  return remap(img, img.height, img.width, (x, y) => [y, x]);
}

/** Rotates by `k` quarter turns counter-clockwise (as numpy's `rot90`); `k` may be negative. */
export function rot90(img: ImageU8, k = 1): ImageU8 {
  const turns = ((k % 4) + 4) % 4;
  if (turns === 0) return img;
  if (turns === 2) return flipVertical(flipHorizontal(img));
  // Counter-clockwise once = transpose, then flip top to bottom.
  return turns === 1 ? flipVertical(transpose(img)) : flipHorizontal(transpose(img));
}

function remap(img: ImageU8, width: number, height: number, source: (x: number, y: number) => [number, number]): ImageU8 {
  const c = img.channels;
  const out = createImage(width, height, c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = source(x, y);
      const s = (sy * img.width + sx) * c;
      const d = (y * width + x) * c;
      for (let k = 0; k < c; k++) out.data[d + k] = img.data[s + k];
    }
  }
  return out;
}
