import { createImage, type ImageU8 } from './image.js';

/** The `w`×`h` region whose top-left corner is (`x`, `y`); it must lie inside the image. */
export function crop(img: ImageU8, x: number, y: number, w: number, h: number): ImageU8 {
  const ints = [x, y, w, h].every(Number.isInteger);
  if (!ints || x < 0 || y < 0 || w < 1 || h < 1 || x + w > img.width || y + h > img.height) {
    throw new RangeError(`crop ${w}x${h} at (${x}, ${y}) does not fit in a ${img.width}x${img.height} image`);
  }
  const c = img.channels;
  if (x === 0 && w === img.width) {
    // Whole rows: one contiguous copy.
    return createImage(w, h, c, img.data.slice(y * w * c, (y + h) * w * c));
  }
  const out = createImage(w, h, c);
  const rowBytes = w * c;
  for (let r = 0; r < h; r++) {
    const start = ((y + r) * img.width + x) * c;
    out.data.set(img.data.subarray(start, start + rowBytes), r * rowBytes);
  }
  return out;
}

/**
 * Drops `height mod scale` rows from the bottom and `width mod scale` columns from the right, so
 * that the image divides evenly into the LR grid (the SR convention for ground truth).
 */
export function modcrop(img: ImageU8, scale: number): ImageU8 {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`modcrop scale must be a positive integer, got ${scale}`);
  }
  const w = img.width - (img.width % scale);
  const h = img.height - (img.height % scale);
  if (w < 1 || h < 1) {
    throw new RangeError(`a ${img.width}x${img.height} image is smaller than scale ${scale}`);
  }
  if (w === img.width && h === img.height) return img;
  return crop(img, 0, 0, w, h);
}
