import { decode } from 'jpeg-js';
import { DataError } from './errors.js';
import { checkImagePixels } from './image-limits.js';
import { createImage, type ImageU8 } from './image.js';
import { hasJpegSignature, readJpegHeader } from './jpeg-header.js';

/**
 * Decodes a baseline or progressive JPEG. A one-component (grayscale) JPEG keeps one channel, like
 * a gray PNG; everything else becomes RGB (jpeg-js converts YCbCr and CMYK).
 */
export function decodeJpeg(bytes: Uint8Array, name = 'image'): ImageU8 {
  const fail = (why: string): never => {
    throw new DataError(`${name}: not a valid JPEG: ${why}`, name);
  };
  if (!hasJpegSignature(bytes)) fail('missing JPEG signature');
  const header = readJpegHeader(bytes);
  if (header === undefined) return fail('no frame header (truncated?)');
  checkImagePixels(name, 'JPEG', header.width, header.height);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return fail(/marker was not found|unknown JPEG marker/.test(message) ? `damaged or truncated (${message})` : message);
  }
  const { width, height, data } = decoded;
  if (width < 1 || height < 1) fail(`image size ${width}x${height} is empty`);
  if (header.components !== 1) return createImage(width, height, 3, data);
  // jpeg-js always writes three equal channels for gray; keep one.
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = data[j];
  return createImage(width, height, 1, out);
}
