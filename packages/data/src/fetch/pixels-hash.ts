import { createHash } from 'node:crypto';
import type { ImageU8 } from '../image.js';

/**
 * SHA-256 of an image's pixels, independent of its file format: `"{width}x{height}x{channels}\n"`
 * followed by the interleaved 8-bit samples. The fetch table uses it for sets that are converted
 * after download (T91: BMP upstream, PNG here), where the file bytes cannot match.
 */
export function sha256Pixels(img: ImageU8): string {
  return createHash('sha256').update(`${img.width}x${img.height}x${img.channels}\n`).update(img.data).digest('hex');
}
