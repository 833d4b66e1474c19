import type { ImageF32, ImageU8 } from '@quantnas/data';
import { measuredPlanes } from './planes.js';
import type { MetricOptions } from './protocol.js';

/** Peak value of the 0..255 scale every metric works on. */
const PEAK = 255;

/**
 * PSNR in dB, `10·log10(255² / MSE)`, with the MSE pooled over every measured pixel (and channel).
 * Identical images give `Infinity`.
 */
export function psnr(sr: ImageU8 | ImageF32, hr: ImageU8 | ImageF32, options: MetricOptions): number {
  const { pairs } = measuredPlanes(sr, hr, options, 'PSNR');
  let sum = 0;
  let count = 0;
  for (const [a, b] of pairs) {
    for (let i = 0; i < a.length; i++) {
      const d = a[i] - b[i];
      sum += d * d;
    }
    count += a.length;
  }
  const mse = sum / count;
  return mse === 0 ? Infinity : 10 * Math.log10((PEAK * PEAK) / mse);
}
