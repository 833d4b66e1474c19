import type { ImageF32, ImageU8 } from '@quantnas/data';
import { DataError } from '@quantnas/data';

/** One channel of values on the 0..255 scale, row-major. */
export interface Plane {
  readonly width: number;
  readonly height: number;
  readonly data: Float64Array;
}

export interface RgbToYOptions {
  /**
   * Round Y to the nearest integer, as MATLAB's rgb2ycbcr does on uint8 input. Off by default:
   * the published bicubic tables are reproduced with float Y (as BasicSR and MATLAB evaluation
   * scripts that convert to double first compute it); rounding lowers them by up to 0.034 dB
   * (see README).
   */
  readonly round?: boolean;
}

/** Scale applied to an image's stored values to reach 0..255. */
function valueScale(img: ImageU8 | ImageF32): number {
  return img.data instanceof Float32Array ? 255 : 1;
}

/**
 * ITU-R BT.601 luma, `Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255` with R, G, B in 0..255
 * (float images are scaled by 255 first). Y lies in 16..235 for in-range input.
 */
export function rgbToY(img: ImageU8 | ImageF32, options: RgbToYOptions = {}): Plane {
  const round = options.round === true;
  if (img.channels !== 3) {
    throw new DataError(`rgbToY needs a 3-channel image, got ${img.channels} channel(s)`);
  }
  const n = img.width * img.height;
  const src = img.data;
  const k = valueScale(img) / 255;
  const out = new Float64Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const y = 16 + (65.481 * src[j] + 128.553 * src[j + 1] + 24.966 * src[j + 2]) * k;
    out[i] = round ? Math.round(y) : y;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Channel `c` of an image on the 0..255 scale. */
export function channelPlane(img: ImageU8 | ImageF32, c: number): Plane {
  const n = img.width * img.height;
  const src = img.data;
  const ch = img.channels;
  const k = valueScale(img);
  const out = new Float64Array(n);
  for (let i = 0, j = c; i < n; i++, j += ch) out[i] = src[j] * k;
  return { width: img.width, height: img.height, data: out };
}

/** clamp(round(v)) to 0..255; NaN maps to 0 like a uint8 cast. */
function toUint8(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 255 ? 255 : Math.round(v);
}

/** An image quantized to uint8 values (a no-op copy for ImageU8). */
export function quantizeToUint8(img: ImageU8 | ImageF32): ImageU8 {
  if (img.data instanceof Uint8Array) return img as ImageU8;
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toUint8(src[i] * 255);
  return { width: img.width, height: img.height, channels: img.channels, data: out };
}
