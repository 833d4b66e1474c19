import { createImage, type ImageF32, type ImageU8 } from './image.js';

/** Scales 0..255 to [0, 1] (`v / 255`), as the networks read pixels. */
export function imageToF32(img: ImageU8): ImageF32 {
  const n = img.data.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i] / 255;
  return { width: img.width, height: img.height, channels: img.channels, data: out };
}

/**
 * Back to 8 bits: `floor(v * 255 + 0.5)` clamped to 0..255, i.e. round half up, which is what
 * "round the SR output to uint8" means for the non-negative values that matter. NaN becomes 0 so
 * that a diverged network yields a black image rather than garbage.
 */
export function f32ToImage(img: ImageF32): ImageU8 {
  const n = img.data.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.floor(img.data[i] * 255 + 0.5);
    out[i] = v > 255 ? 255 : v > 0 ? v : 0;
  }
  return createImage(img.width, img.height, img.channels, out);
}
