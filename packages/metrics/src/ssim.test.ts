import { DataError } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import type { MetricOptions } from './protocol.js';
import { gaussianKernel, ssim } from './ssim.js';
import { addNoise, f32, randomU8, smoothU8, u8 } from './test-helpers.js';
import type { ImageU8 } from '@quantnas/data';

const plain: MetricOptions = { shave: 0, yChannel: false, roundToUint8: false };

/** Direct 2-D window SSIM (Wang et al.), the textbook way, for a 1-channel image. */
function naiveSsim(a: ImageU8, b: ImageU8, shave: number): number {
  const size = 11;
  const sigma = 1.5;
  const win: number[][] = [];
  let sum = 0;
  for (let i = 0; i < size; i++) {
    win.push([]);
    for (let j = 0; j < size; j++) {
      const v = Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / (2 * sigma * sigma));
      win[i].push(v);
      sum += v;
    }
  }
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  const at = (img: ImageU8, x: number, y: number): number => img.data[(y + shave) * img.width + x + shave];
  const w = a.width - 2 * shave;
  const h = a.height - 2 * shave;
  let total = 0;
  let count = 0;
  for (let y = 0; y + size <= h; y++) {
    for (let x = 0; x + size <= w; x++) {
      let mu1 = 0,
        mu2 = 0,
        s11 = 0,
        s22 = 0,
        s12 = 0;
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          const k = win[i][j] / sum;
          const p = at(a, x + j, y + i);
          const q = at(b, x + j, y + i);
          mu1 += k * p;
          mu2 += k * q;
          s11 += k * p * p;
          s22 += k * q * q;
          s12 += k * p * q;
        }
      }
      const v1 = s11 - mu1 * mu1;
      const v2 = s22 - mu2 * mu2;
      const cov = s12 - mu1 * mu2;
      total += ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (v1 + v2 + c2));
      count++;
    }
  }
  return total / count;
}

function channel(img: ImageU8, c: number): ImageU8 {
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i * img.channels + c];
  return { width: img.width, height: img.height, channels: 1, data };
}

describe('gaussianKernel', () => {
  it('is normalised and symmetric, with the fspecial(11, 1.5) shape', () => {
    const g = gaussianKernel();
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    for (let i = 0; i < 5; i++) expect(g[i]).toBe(g[10 - i]);
    // Centre of the 2-D window fspecial('gaussian', 11, 1.5), as MATLAB prints it: 0.0708.
    expect(g[5] * g[5]).toBeCloseTo(0.0708, 4);
  });
});

describe('ssim', () => {
  it('is 1 for identical images', () => {
    const a = smoothU8(24, 20, 3, 1);
    expect(ssim(a, a, plain)).toBeCloseTo(1, 14);
    expect(ssim(a, a, { shave: 2, yChannel: true, roundToUint8: true })).toBeCloseTo(1, 14);
  });

  it('is symmetric', () => {
    const a = smoothU8(30, 25, 1, 2);
    const b = addNoise(a, 12, 3);
    expect(ssim(a, b, plain)).toBeCloseTo(ssim(b, a, plain), 12);
  });

  it('decreases as noise grows', () => {
    const a = smoothU8(40, 32, 1, 4);
    const values = [2, 8, 20, 50].map((sigma) => ssim(addNoise(a, sigma, 5), a, plain));
    expect(values[0]).toBeLessThan(1);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
    expect(values[3]).toBeGreaterThan(-1);
  });

  it('matches a direct 2-D window computation', () => {
    const a = randomU8(17, 15, 1, 6);
    const b = addNoise(smoothU8(17, 15, 1, 7), 30, 8);
    expect(ssim(a, b, plain)).toBeCloseTo(naiveSsim(a, b, 0), 12);
    expect(ssim(a, b, { ...plain, shave: 2 })).toBeCloseTo(naiveSsim(a, b, 2), 12);
    const c = smoothU8(23, 19, 1, 9);
    const d = addNoise(c, 6, 10);
    expect(ssim(c, d, { ...plain, shave: 1 })).toBeCloseTo(naiveSsim(c, d, 1), 12);
  });

  it('averages per-channel SSIM on RGB without yChannel', () => {
    const a = smoothU8(20, 18, 3, 11);
    const b = addNoise(a, 10, 12);
    const perChannel = [0, 1, 2].map((c) => ssim(channel(a, c), channel(b, c), plain));
    expect(ssim(a, b, plain)).toBeCloseTo((perChannel[0] + perChannel[1] + perChannel[2]) / 3, 14);
  });

  it('quantizes float output when asked', () => {
    const a = smoothU8(16, 16, 1, 13);
    const f = f32(
      16,
      16,
      1,
      Array.from(a.data, (v, i) => (v + (i % 2 ? 0.3 : -0.3)) / 255),
    );
    expect(ssim(f, a, { ...plain, roundToUint8: true })).toBeCloseTo(1, 14);
    expect(ssim(f, a, plain)).toBeLessThan(1);
  });

  it('rejects an image too small for the window after shaving', () => {
    const a = u8(14, 14, 1, new Array(196).fill(7));
    expect(ssim(a, a, { ...plain, shave: 1 })).toBeCloseTo(1, 14);
    expect(() => ssim(a, a, { ...plain, shave: 2 })).toThrow(DataError);
    expect(() => ssim(a, a, { ...plain, shave: 2 })).toThrow(/leaves 10×10 of a 14×14 image; need at least 11×11/);
  });

  it('rejects mismatched sizes', () => {
    const a = smoothU8(20, 20, 1, 1);
    const b = smoothU8(20, 21, 1, 1);
    expect(() => ssim(a, b, plain)).toThrow(/20×20×1.*20×21×1/);
  });
});
