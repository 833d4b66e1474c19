/** An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  readonly data: Uint8Array;
}

export function checkImage(image: RgbImage): void {
  if (typeof image !== 'object' || image === null) throw new TypeError('upscale: image must be { width, height, channels: 3, data }');
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`upscale: width and height must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 3) throw new RangeError(`upscale: images must have 3 channels (RGB), got ${channels}`);
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new RangeError(`upscale: data must be a Uint8Array of ${width}×${height}×3 bytes`);
  }
}
