import type { ImageF32, ImageU8 } from '@quantnas/data';
import { measuredPlanes } from './planes.js';
import type { MetricOptions } from './protocol.js';

/** Window side and σ of the standard SSIM (Wang et al. 2004; MATLAB ssim_index, BasicSR). */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** Normalised 1-D Gaussian; its outer product is the normalised 11×11 window. */
export function gaussianKernel(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const k = new Float64Array(size);
  const mid = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - mid) ** 2) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

const KERNEL = gaussianKernel();

/**
 * Mean SSIM of two planes of `width`×`height` values on the 0..255 scale, 'valid' filtering.
 * The window is separable, so the five local moments are filtered along rows, then columns.
 */
export function ssimPlane(a: Float64Array, b: Float64Array, width: number, height: number): number {
  const K = SSIM_WINDOW;
  const ow = width - K + 1;
  const oh = height - K + 1;
  const g = KERNEL;
  // Row pass: height × ow moments of x, y, x², y², xy.
  const n = height * ow;
  const rx = new Float64Array(n);
  const ry = new Float64Array(n);
  const rxx = new Float64Array(n);
  const ryy = new Float64Array(n);
  const rxy = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    const src = y * width;
    const dst = y * ow;
    for (let x = 0; x < ow; x++) {
      let sx = 0,
        sy = 0,
        sxx = 0,
        syy = 0,
        sxy = 0;
      for (let k = 0; k < K; k++) {
        const w = g[k];
        const va = a[src + x + k];
        const vb = b[src + x + k];
        const wa = w * va;
        const wb = w * vb;
        sx += wa;
        sy += wb;
        sxx += wa * va;
        syy += wb * vb;
        sxy += wa * vb;
      }
      rx[dst + x] = sx;
      ry[dst + x] = sy;
      rxx[dst + x] = sxx;
      ryy[dst + x] = syy;
      rxy[dst + x] = sxy;
    }
  }
  // Column pass and the SSIM map, summed on the fly.
  let total = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let mx = 0,
        my = 0,
        exx = 0,
        eyy = 0,
        exy = 0;
      for (let k = 0, i = y * ow + x; k < K; k++, i += ow) {
        const w = g[k];
        mx += w * rx[i];
        my += w * ry[i];
        exx += w * rxx[i];
        eyy += w * ryy[i];
        exy += w * rxy[i];
      }
      const mxy = mx * my;
      const mxx = mx * mx;
      const myy = my * my;
      total += ((2 * mxy + C1) * (2 * (exy - mxy) + C2)) / ((mxx + myy + C1) * (exx - mxx + (eyy - myy) + C2));
    }
  }
  return total / (ow * oh);
}

/**
 * SSIM with the standard Gaussian window (11×11, σ = 1.5), K1 = 0.01, K2 = 0.03, L = 255, over the
 * 'valid' region (no padding). Multi-channel images measured without `yChannel` average the
 * per-channel SSIM. The shaved image must be at least 11×11.
 */
export function ssim(sr: ImageU8 | ImageF32, hr: ImageU8 | ImageF32, options: MetricOptions): number {
  const { pairs, width, height } = measuredPlanes(sr, hr, options, 'SSIM', SSIM_WINDOW);
  let sum = 0;
  for (const [a, b] of pairs) sum += ssimPlane(a, b, width, height);
  return sum / pairs.length;
}
