/**
 * An 8-bit image, rows top to bottom, pixels interleaved (HWC). Grayscale images keep one channel
 * so that metrics can measure them on their gray values (docs/method.md §9); `toRgb` expands them.
 */
export interface ImageU8 {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

/** A float image in [0, 1], HWC, as networks consume and produce it. */
export interface ImageF32 {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Float32Array;
}

/**
 * Makes an `ImageU8`, checking that the sizes are positive integers and that `data` (zero-filled
 * when omitted) holds exactly `width * height * channels` bytes.
 */
export function createImage(width: number, height: number, channels: 1 | 3, data?: Uint8Array): ImageU8 {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  const length = width * height * channels;
  if (data === undefined) return { width, height, channels, data: new Uint8Array(length) };
  if (data.length !== length) {
    throw new RangeError(`image data holds ${data.length} bytes, expected ${length} for ${width}x${height}x${channels}`);
  }
  return { width, height, channels, data };
}
