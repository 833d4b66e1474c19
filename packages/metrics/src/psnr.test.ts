import { DataError } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import type { MetricOptions } from './protocol.js';
import { psnr } from './psnr.js';
import { f32, u8 } from './test-helpers.js';

const plain: MetricOptions = { shave: 0, yChannel: false, roundToUint8: false };
const db = (mse: number): number => 10 * Math.log10((255 * 255) / mse);

describe('psnr', () => {
  it('matches a hand computation on a 2×2 gray image', () => {
    const hr = u8(2, 2, 1, [0, 0, 0, 0]);
    const sr = u8(2, 2, 1, [10, 0, 0, 0]);
    // MSE = 100 / 4 = 25 → 10·log10(65025 / 25) = 10·log10(2601).
    expect(psnr(sr, hr, plain)).toBeCloseTo(34.15140352195873, 12);
  });

  it('is Infinity for identical images', () => {
    const a = u8(3, 2, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(psnr(a, a, plain)).toBe(Infinity);
  });

  it('is symmetric', () => {
    const a = u8(2, 1, 1, [3, 200]);
    const b = u8(2, 1, 1, [9, 180]);
    expect(psnr(a, b, plain)).toBe(psnr(b, a, plain));
  });

  it('shaves the border before measuring', () => {
    // 4×4, errors only on the border ring except one inner pixel.
    const hr = u8(4, 4, 1, new Array(16).fill(50));
    const srValues = new Array(16).fill(50);
    srValues[0] = 0; // corner: error 50
    srValues[3] = 100; // corner: error 50
    srValues[5] = 60; // inner (1,1): error 10
    const sr = u8(4, 4, 1, srValues);
    expect(psnr(sr, hr, plain)).toBeCloseTo(db((2500 + 2500 + 100) / 16), 12);
    // Shave 1 keeps the inner 2×2: one error of 10 over 4 pixels.
    expect(psnr(sr, hr, { ...plain, shave: 1 })).toBeCloseTo(db(100 / 4), 12);
    srValues[5] = 50;
    expect(psnr(u8(4, 4, 1, srValues), hr, { ...plain, shave: 1 })).toBe(Infinity);
  });

  it('quantizes float output to uint8 only when asked', () => {
    const hr = u8(2, 1, 1, [100, 255]);
    const sr = f32(2, 1, 1, [100.4 / 255, 1.2]);
    expect(psnr(sr, hr, { ...plain, roundToUint8: true })).toBe(Infinity);
    // Float comparison on the 0..255 scale: errors 0.4 and 0.2·255 = 51 (no clamping).
    const e0 = Math.fround(100.4 / 255) * 255 - 100;
    const e1 = Math.fround(1.2) * 255 - 255;
    expect(psnr(sr, hr, plain)).toBeCloseTo(db((e0 * e0 + e1 * e1) / 2), 9);
  });

  it('measures float BT.601 luma on RGB with yChannel', () => {
    const hr = u8(2, 1, 3, [0, 0, 0, 0, 0, 0]);
    const sr = u8(2, 1, 3, [0, 255, 0, 0, 0, 0]);
    // Y(green) = 16 + 128.553 = 144.553, Y(black) = 16; one error over two pixels. Y is not
    // rounded (to 145) even with roundToUint8: that would be 129² instead of 128.553².
    const expected = db((128.553 * 128.553) / 2);
    expect(psnr(sr, hr, { shave: 0, yChannel: true, roundToUint8: false })).toBeCloseTo(expected, 9);
    expect(psnr(sr, hr, { shave: 0, yChannel: true, roundToUint8: true })).toBeCloseTo(expected, 9);
    // Float output: pixels are rounded first, then Y is taken.
    const srF = f32(2, 1, 3, [0, 254.6 / 255, 0.2 / 255, 0, 0, 0]);
    expect(psnr(srF, hr, { shave: 0, yChannel: true, roundToUint8: true })).toBeCloseTo(expected, 9);
  });

  it('pools all channels of RGB without yChannel', () => {
    const hr = u8(2, 1, 3, [0, 0, 0, 0, 0, 0]);
    const sr = u8(2, 1, 3, [0, 255, 0, 0, 0, 3]);
    expect(psnr(sr, hr, plain)).toBeCloseTo(db((255 * 255 + 9) / 6), 12);
  });

  it('measures a 1-channel image on its gray values under yChannel', () => {
    const hr = u8(2, 2, 1, [0, 0, 0, 0]);
    const sr = u8(2, 2, 1, [10, 0, 0, 0]);
    const options = { shave: 0, yChannel: true, roundToUint8: true };
    expect(psnr(sr, hr, options)).toBeCloseTo(db(25), 12);
  });

  it('rejects mismatched sizes and channels, naming both', () => {
    const a = u8(3, 2, 1, [0, 0, 0, 0, 0, 0]);
    const b = u8(2, 3, 1, [0, 0, 0, 0, 0, 0]);
    expect(() => psnr(a, b, plain)).toThrow(DataError);
    expect(() => psnr(a, b, plain)).toThrow(/3×2×1.*2×3×1/);
    const c = u8(3, 2, 3, new Array(18).fill(0));
    expect(() => psnr(a, c, plain)).toThrow(/3×2×1.*3×2×3/);
  });

  it('rejects a shave that leaves nothing', () => {
    const a = u8(4, 6, 1, new Array(24).fill(0));
    expect(() => psnr(a, a, { ...plain, shave: 2 })).toThrow(/shave 2 leaves 0×2 of a 4×6 image/);
    expect(psnr(a, a, { ...plain, shave: 1 })).toBe(Infinity);
  });

  it('rejects an image whose data does not match its size', () => {
    const bad = { width: 2, height: 2, channels: 1 as const, data: new Uint8Array(3) };
    expect(() => psnr(bad, bad, plain)).toThrow(/holds 3 values, expected 4/);
  });
});
