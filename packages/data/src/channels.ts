import { createImage, type ImageU8 } from './image.js';

/** Repeats a grayscale image's channel three times; an RGB image is returned as is. */
export function toRgb(img: ImageU8): ImageU8 {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const v = src[i];
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
  }
  return createImage(img.width, img.height, 3, out);
}
