import { DataError } from '../errors.js';
import { createImage, type ImageU8 } from '../image.js';

/**
 * Decodes an uncompressed Windows BMP (BITMAPINFOHEADER or later; 24- or 32-bit BI_RGB, or 8-bit
 * with a palette; bottom-up or top-down) to 8-bit RGB. This is what T91 is upstream; anything else
 * is a DataError naming the file.
 */
export function decodeBmp(bytes: Uint8Array, name = 'image'): ImageU8 {
  const fail = (why: string): never => {
    throw new DataError(`${name}: not a BMP this reader handles: ${why}`, name);
  };
  if (bytes.length < 54 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) fail('no BM signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) fail(`header of ${headerSize} bytes`);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (width <= 0 || rawHeight === 0) fail(`size ${width}x${rawHeight}`);
  if (compression !== 0 && !(compression === 3 && bpp === 32)) fail(`compression ${compression}`);
  if (bpp !== 24 && bpp !== 32 && bpp !== 8) fail(`${bpp} bits per pixel`);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) fail(`truncated (${bytes.length} bytes, needs ${dataOffset + stride * height})`);
  let palette: Uint8Array | undefined;
  if (bpp === 8) {
    const colors = view.getUint32(46, true) || 256;
    palette = bytes.subarray(14 + headerSize, 14 + headerSize + colors * 4);
  }
  const img = createImage(width, height, 3);
  const bytesPerPixel = bpp / 8;
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette !== undefined) {
        const p = bytes[row + x]! * 4;
        img.data[o] = palette[p + 2]!;
        img.data[o + 1] = palette[p + 1]!;
        img.data[o + 2] = palette[p]!;
      } else {
        const s = row + x * bytesPerPixel;
        img.data[o] = bytes[s + 2]!;
        img.data[o + 1] = bytes[s + 1]!;
        img.data[o + 2] = bytes[s]!;
      }
    }
  }
  return img;
}

/** A 24-bit bottom-up BMP of an RGB (or gray, expanded) image: the inverse of `decodeBmp`. */
export function encodeBmp(img: ImageU8): Uint8Array {
  const stride = Math.ceil((img.width * 3) / 4) * 4;
  const size = 54 + stride * img.height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, img.width, true);
  view.setInt32(22, img.height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, stride * img.height, true);
  for (let y = 0; y < img.height; y++) {
    const row = 54 + (img.height - 1 - y) * stride;
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * img.channels;
      const [r, g, b] = img.channels === 1 ? [img.data[i]!, img.data[i]!, img.data[i]!] : [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
      out[row + x * 3] = b;
      out[row + x * 3 + 1] = g;
      out[row + x * 3 + 2] = r;
    }
  }
  return out;
}
