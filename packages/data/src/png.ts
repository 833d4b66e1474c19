import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { DataError } from './errors.js';
import { checkImagePixels } from './image-limits.js';
import { createImage, type ImageU8 } from './image.js';
import { readPngLayout, type PngHeader } from './png-chunks.js';
import { unfilterScanlines } from './png-unfilter.js';

/**
 * Decodes a PNG of any standard type to 8 bits per sample.
 *
 * - Gray and gray + alpha keep one channel; RGB, RGBA and palette images become three channels.
 * - Alpha is dropped, not composited: SR benchmarks have no meaningful transparency, and
 *   compositing onto a background would change the colour values the metrics are computed on.
 * - 16-bit samples become `round(v / 257)`, the nearest 8-bit level (v = 257·k maps exactly to k).
 * - 8-bit gray/RGB(A) non-interlaced files, nearly every SR image, are decoded here directly
 *   (inflate, unfilter, copy), about twice as fast as pngjs's RGBA path; palette,
 *   interlaced (Adam7), 1/2/4/16-bit files go through pngjs.
 *
 * The chunk structure, CRCs and the decompressed length are checked first so that a damaged file
 * is reported as one line naming `name`, never as a pngjs or zlib stack or a silently black image.
 */
export function decodePng(bytes: Uint8Array, name = 'image'): ImageU8 {
  const layout = readPngLayout(bytes, name);
  const { header } = layout;
  const expected = rawLength(header);
  if (expected === undefined) {
    throw new DataError(`${name}: not a valid PNG: unsupported colour type ${header.colorType} with bit depth ${header.bitDepth}`, name);
  }
  // Before inflating: a few MB of zeros can claim gigabytes of pixels.
  checkImagePixels(name, 'PNG', header.width, header.height);
  let raw: Uint8Array;
  try {
    // Never inflate more than the header's image needs (+1 byte to see whether there is more).
    raw = inflateSync(layout.idat.length === 1 ? layout.idat[0] : Buffer.concat(layout.idat), {
      maxOutputLength: expected + 1,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(`${name}: not a valid PNG: pixel data is longer than the ${header.width}x${header.height} image it declares`, name);
    }
    throw new DataError(`${name}: not a valid PNG: the compressed pixel data is damaged or truncated`, name);
  }
  // Checked here because pngjs fills a short stream with zeros instead of failing.
  if (raw.length < expected) {
    throw new DataError(`${name}: not a valid PNG: pixel data is truncated (${raw.length} of ${expected} bytes)`, name);
  }
  const direct = header.bitDepth === 8 && !header.interlaced && header.colorType !== 3;
  return direct ? decodeDirect(raw, header, name) : decodeWithPngjs(bytes, layout.end, header, name);
}

/** Bytes of the decompressed, still filtered image data, or undefined for an invalid header. */
function rawLength(h: PngHeader): number | undefined {
  const samples = SAMPLES[h.colorType];
  if (samples === undefined || !ALLOWED_DEPTHS[h.colorType].includes(h.bitDepth)) return undefined;
  const bits = samples * h.bitDepth;
  const rows = (w: number, ht: number): number => (w > 0 && ht > 0 ? ht * (Math.ceil((w * bits) / 8) + 1) : 0);
  if (!h.interlaced) return rows(h.width, h.height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    total += rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy));
  }
  return total;
}

const SAMPLES: Record<number, number | undefined> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
/** Adam7 interlacing passes: [x0, y0, dx, dy]. */
export const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** The common case (8-bit gray/RGB, with or without alpha, not interlaced), without pngjs. */
function decodeDirect(raw: Uint8Array, h: PngHeader, name: string): ImageU8 {
  const samples = SAMPLES[h.colorType] ?? 0;
  const stride = h.width * samples;
  if (!unfilterScanlines(raw, h.height, stride, samples)) {
    throw new DataError(`${name}: not a valid PNG: unknown scanline filter`, name);
  }
  const channels = h.colorType === 0 || h.colorType === 4 ? 1 : 3;
  const out = createImage(h.width, h.height, channels);
  const dst = out.data;
  const n = h.width;
  for (let y = 0; y < h.height; y++) {
    const row = y * (stride + 1) + 1;
    const o = y * n * channels;
    if (samples === channels) {
      dst.set(raw.subarray(row, row + stride), o);
    } else {
      // Drop the alpha sample of each pixel.
      for (let x = 0, s = row, d = o; x < n; x++, s += samples) {
        for (let c = 0; c < channels; c++) dst[d++] = raw[s + c];
      }
    }
  }
  return out;
}

/** Palette, interlaced and non-8-bit images: pngjs expands them to 8-bit RGBA. */
function decodeWithPngjs(bytes: Uint8Array, end: number, h: PngHeader, name: string): ImageU8 {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, end);
    // CRCs were checked by readPngLayout; pngjs's own check would repeat the work.
    decoded = PNG.sync.read(buffer, { checkCRC: false });
  } catch (err) {
    throw new DataError(`${name}: not a valid PNG: ${describePngjsError(err)}`, name);
  }
  const { width, height, data: rgba } = decoded;
  const n = width * height;
  if (rgba.length < n * 4) {
    throw new DataError(`${name}: not a valid PNG: pixel data is incomplete`, name);
  }
  if (h.colorType === 0 || h.colorType === 4) {
    const out = new Uint8Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 4) out[i] = rgba[j];
    return createImage(width, height, 1, out);
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
    out[k] = rgba[j];
    out[k + 1] = rgba[j + 1];
    out[k + 2] = rgba[j + 2];
  }
  return createImage(width, height, 3, out);
}

/** Encodes an 8-bit gray (colour type 0) or RGB (colour type 2) PNG. */
export function encodePng(img: ImageU8): Uint8Array {
  const colorType = img.channels === 1 ? 0 : 2;
  // Sized after construction: given a size, the constructor would allocate an unused RGBA buffer.
  const png = new PNG();
  png.width = img.width;
  png.height = img.height;
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const out = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function describePngjsError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/unexpected end|waitng on finished|waiting on finished|incorrect header check/i.test(message)) {
    return 'the compressed pixel data is damaged or truncated';
  }
  return message.split('\n')[0];
}
