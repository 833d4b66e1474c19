import { DataError } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import { quantizeToUint8, rgbToY } from './color.js';
import { f32, u8 } from './test-helpers.js';

describe('rgbToY', () => {
  // Black, white, pure red, green, blue.
  const img = u8(5, 1, 3, [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255]);

  it('applies the BT.601 formula on 0..255 values, unrounded by default', () => {
    const y = rgbToY(img);
    expect(Array.from(y.data)).toEqual(Array.from(rgbToY(img, { round: false }).data));
    expect(y.width).toBe(5);
    expect(y.height).toBe(1);
    const expected = [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966];
    expected.forEach((v, i) => expect(y.data[i]).toBeCloseTo(v, 10));
  });

  it('rounds to integers when asked, as rgb2ycbcr on uint8 does', () => {
    expect(Array.from(rgbToY(img, { round: true }).data)).toEqual([16, 235, 81, 145, 41]);
  });

  it('scales float images by 255 first', () => {
    const f = f32(
      5,
      1,
      3,
      Array.from(img.data, (v) => v / 255),
    );
    const a = rgbToY(img, { round: false }).data;
    const b = rgbToY(f, { round: false }).data;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4);
  });

  it('rejects a 1-channel image', () => {
    expect(() => rgbToY(u8(1, 1, 1, [3]))).toThrow(DataError);
  });
});

describe('quantizeToUint8', () => {
  it('rounds, clamps, and maps NaN to 0', () => {
    const q = quantizeToUint8(f32(6, 1, 1, [-0.1, 0.5 / 255, 0.49 / 255, 100.5 / 255, 1.3, Number.NaN]));
    expect(Array.from(q.data)).toEqual([0, 1, 0, 101, 255, 0]);
  });
});
