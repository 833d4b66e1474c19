import { DataError } from './errors.js';

/**
 * The most pixels an image file may declare: 100 megapixels (e.g. 10000×10000), as jpeg-js's own
 * default. Checked from the header, before anything is inflated or allocated, so that a small
 * compressed file claiming a huge image (a decompression bomb) fails at once.
 */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** Throws a one-line DataError naming the file and the limit when `width × height` is over it. */
export function checkImagePixels(name: string, format: 'PNG' | 'JPEG', width: number, height: number): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new DataError(
      `${name}: the ${format} declares ${width}x${height} pixels (${((width * height) / 1e6).toFixed(1)} MP), ` +
        `over the limit of ${MAX_IMAGE_PIXELS / 1e6} MP`,
      name,
    );
  }
}
