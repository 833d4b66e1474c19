import { DataError } from './errors.js';
import { checkImagePixels } from './image-limits.js';
import type { ImageU8 } from './image.js';
import { decodeJpeg } from './jpeg.js';
import { hasJpegSignature, readJpegHeader } from './jpeg-header.js';
import { decodePng } from './png.js';
import { hasPngSignature, readPngHeader } from './png-chunks.js';

export type ImageFormat = 'png' | 'jpeg';

/** The format named by the file's first bytes (its extension is not trusted), if known. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (hasPngSignature(bytes)) return 'png';
  if (hasJpegSignature(bytes)) return 'jpeg';
  return undefined;
}

/** Decodes a PNG or JPEG, chosen by its signature. */
export function decodeImage(bytes: Uint8Array, name = 'image'): ImageU8 {
  switch (sniffImageFormat(bytes)) {
    case 'png':
      return decodePng(bytes, name);
    case 'jpeg':
      return decodeJpeg(bytes, name);
    default:
      throw new DataError(`${name}: not a PNG or JPEG image`, name);
  }
}

/** An image's format, size and decoded channel count, read from its header alone. */
export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * Reads format and size from the start of a file (for a PNG the first 33 bytes; for a JPEG up to
 * its frame header). Returns undefined when `head` is a JPEG prefix too short to hold the frame
 * header, so that the caller can retry with the whole file.
 */
export function decodeImageInfo(head: Uint8Array, name = 'image'): ImageInfo | undefined {
  const format = sniffImageFormat(head);
  if (format === 'png') {
    const { width, height, colorType } = readPngHeader(head, name);
    checkImagePixels(name, 'PNG', width, height);
    return { format, width, height, channels: colorType === 0 || colorType === 4 ? 1 : 3 };
  }
  if (format === 'jpeg') {
    const header = readJpegHeader(head);
    if (header === undefined) return undefined;
    if (header.width < 1 || header.height < 1) {
      throw new DataError(`${name}: not a valid JPEG: image size ${header.width}x${header.height} is empty`, name);
    }
    checkImagePixels(name, 'JPEG', header.width, header.height);
    return { format, width: header.width, height: header.height, channels: header.components === 1 ? 1 : 3 };
  }
  throw new DataError(`${name}: not a PNG or JPEG image`, name);
}
