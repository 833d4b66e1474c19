import { encode } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeImageInfo, sniffImageFormat } from './decode-image.js';
import { DataError } from './errors.js';
import { decodeJpeg } from './jpeg.js';
import { encodePng } from './png.js';
import { createImage } from './image.js';

function smoothRgba(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = 40 + x * 4;
      data[i + 1] = 200 - y * 3;
      data[i + 2] = 120;
      data[i + 3] = 255;
    }
  }
  return data;
}

describe('decodeJpeg', () => {
  const width = 40;
  const height = 24;
  const rgba = smoothRgba(width, height);
  const jpeg = new Uint8Array(encode({ width, height, data: rgba }, 95).data);

  it('decodes to RGB close to the encoded pixels', () => {
    const img = decodeJpeg(jpeg);
    expect([img.width, img.height, img.channels]).toEqual([width, height, 3]);
    let maxDiff = 0;
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs(img.data[i * 3 + c] - rgba[i * 4 + c]));
    }
    expect(maxDiff).toBeLessThanOrEqual(6);
  });

  it('reads the size from the frame header', () => {
    expect(decodeImageInfo(jpeg)).toEqual({ format: 'jpeg', width, height, channels: 3 });
  });

  it('reports a truncated JPEG as a DataError naming it', () => {
    for (const cut of [jpeg.length - 2, jpeg.length >> 1, 200, 4]) {
      expect(() => decodeJpeg(jpeg.subarray(0, cut), 'cut.jpg')).toThrow(DataError);
      expect(() => decodeJpeg(jpeg.subarray(0, cut), 'cut.jpg')).toThrow(/^cut\.jpg: not a valid JPEG/);
    }
  });
});

describe('decodeImage', () => {
  it('picks the decoder from the signature, not the name', () => {
    const png = encodePng(createImage(3, 2, 1, Uint8Array.of(1, 2, 3, 4, 5, 6)));
    const jpeg = new Uint8Array(encode({ width: 8, height: 8, data: smoothRgba(8, 8) }, 90).data);
    expect(sniffImageFormat(png)).toBe('png');
    expect(sniffImageFormat(jpeg)).toBe('jpeg');
    expect(decodeImage(png, 'really-a-png.jpg').data).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect(decodeImage(jpeg, 'really-a-jpeg.png').channels).toBe(3);
  });

  it('rejects anything else with one line naming the input', () => {
    const gif = new TextEncoder().encode('GIF89a......');
    expect(sniffImageFormat(gif)).toBeUndefined();
    expect(() => decodeImage(gif, 'anim.gif')).toThrow(DataError);
    expect(() => decodeImage(gif, 'anim.gif')).toThrow(/^anim\.gif: not a PNG or JPEG image$/);
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow('empty.png: not a PNG or JPEG image');
  });
});

describe('JPEG size limit', () => {
  it('refuses a frame header over 100 MP before decoding, naming the file and the limit', () => {
    const jpeg = new Uint8Array(encode({ width: 8, height: 8, data: smoothRgba(8, 8) }, 90).data);
    // Rewrite the SOF0 frame size to 20000×20000.
    let sof = 2;
    while (!(jpeg[sof] === 0xff && jpeg[sof + 1] === 0xc0)) sof++;
    jpeg[sof + 5] = 20000 >> 8;
    jpeg[sof + 6] = 20000 & 0xff;
    jpeg[sof + 7] = 20000 >> 8;
    jpeg[sof + 8] = 20000 & 0xff;
    const message = /^big\.jpg: the JPEG declares 20000x20000 pixels \(400\.0 MP\), over the limit of 100 MP$/;
    expect(() => decodeJpeg(jpeg, 'big.jpg')).toThrow(message);
    expect(() => decodeImageInfo(jpeg, 'big.jpg')).toThrow(message);
  });
});
