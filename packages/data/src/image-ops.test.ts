import { describe, expect, it } from 'vitest';
import { toRgb } from './channels.js';
import { crop, modcrop } from './crop.js';
import { flipHorizontal, flipVertical, rot90, transpose } from './dihedral.js';
import { f32ToImage, imageToF32 } from './float.js';
import { createImage, type ImageU8 } from './image.js';

// Pixel value encodes its position so that any misplaced pixel shows.
function coords(width: number, height: number, channels: 1 | 3 = 3): ImageU8 {
  const img = createImage(width, height, channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) img.data[(y * width + x) * channels + c] = y * 16 + x + c * 100;
    }
  }
  return img;
}
const at = (img: ImageU8, x: number, y: number, c = 0): number => img.data[(y * img.width + x) * img.channels + c];

describe('createImage', () => {
  it('rejects data of the wrong length and non-integer sizes', () => {
    expect(() => createImage(2, 2, 3, new Uint8Array(11))).toThrow(/12/);
    expect(() => createImage(0, 2, 1)).toThrow(RangeError);
    expect(() => createImage(1.5, 2, 1)).toThrow(RangeError);
  });
});

describe('crop and modcrop', () => {
  it('crop takes the region at (x, y)', () => {
    const img = coords(6, 5);
    const c = crop(img, 2, 1, 3, 2);
    expect([c.width, c.height]).toEqual([3, 2]);
    expect(at(c, 0, 0)).toBe(1 * 16 + 2);
    expect(at(c, 2, 1, 2)).toBe(2 * 16 + 4 + 200);
    expect(crop(img, 0, 3, 6, 2).data).toEqual(img.data.slice(3 * 6 * 3));
  });

  it('crop rejects regions outside the image', () => {
    expect(() => crop(coords(4, 4), 2, 2, 3, 1)).toThrow(RangeError);
    expect(() => crop(coords(4, 4), -1, 0, 1, 1)).toThrow(RangeError);
  });

  it('modcrop removes height mod s rows and width mod s columns from the bottom right', () => {
    const img = coords(11, 7);
    const m = modcrop(img, 3);
    expect([m.width, m.height]).toEqual([9, 6]);
    expect(m).toEqual(crop(img, 0, 0, 9, 6));
    expect(modcrop(img, 1)).toBe(img);
    expect(() => modcrop(coords(2, 2), 3)).toThrow(RangeError);
  });
});

describe('toRgb', () => {
  it('repeats the gray channel and leaves RGB alone', () => {
    const gray = createImage(2, 1, 1, Uint8Array.of(7, 200));
    expect([...toRgb(gray).data]).toEqual([7, 7, 7, 200, 200, 200]);
    const rgb = coords(2, 2);
    expect(toRgb(rgb)).toBe(rgb);
  });
});

describe('flips and rotations', () => {
  const img = coords(4, 3);

  it('flip and transpose move pixels as their names say', () => {
    expect(at(flipHorizontal(img), 0, 0)).toBe(at(img, 3, 0));
    expect(at(flipVertical(img), 1, 0, 1)).toBe(at(img, 1, 2, 1));
    const t = transpose(img);
    expect([t.width, t.height]).toEqual([3, 4]);
    expect(at(t, 2, 1)).toBe(at(img, 1, 2));
  });

  it('rot90 turns counter-clockwise and four turns are the identity', () => {
    const r = rot90(img);
    expect([r.width, r.height]).toEqual([3, 4]);
    // The top-right corner goes to the top-left.
    expect(at(r, 0, 0)).toBe(at(img, 3, 0));
    expect(at(r, 0, 3)).toBe(at(img, 0, 0));
    expect(rot90(rot90(rot90(rot90(img))))).toEqual(img);
    expect(rot90(img, -1)).toEqual(rot90(img, 3));
    expect(rot90(img, 2)).toEqual(flipVertical(flipHorizontal(img)));
  });
});

describe('imageToF32 / f32ToImage', () => {
  it('maps 0..255 to v/255 and back exactly', () => {
    const all = createImage(
      256,
      1,
      1,
      Uint8Array.from({ length: 256 }, (_, i) => i),
    );
    const f = imageToF32(all);
    expect(f.data[255]).toBe(1);
    expect(f.data[51]).toBeCloseTo(0.2, 7);
    expect(f32ToImage(f)).toEqual(all);
  });

  it('rounds half up and clamps, NaN to 0', () => {
    const data = Float32Array.of(-0.5, 1.7, 0.5 / 255, 0.4999 / 255, 2.5 / 255, Number.NaN, 0.998);
    const u8 = f32ToImage({ width: 7, height: 1, channels: 1, data });
    expect([...u8.data]).toEqual([0, 255, 1, 0, 3, 0, 254]);
  });
});
