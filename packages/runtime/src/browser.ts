import type { RgbImage } from './image.js';

/**
 * The browser entry (bundled by scripts/build-browser.mjs into dist/browser/quantnas-runtime.js,
 * with kernels.wasm and kernels-relaxed.wasm beside it): the whole API of index.ts, plus
 * conversions between canvas ImageData and the engine's RGB images. Sessions run on the calling
 * thread (threads: 1); the worker pool is Node-only and is left out of the bundle.
 */
export * from './index.js';

/** The RGB bytes of canvas pixels (alpha is dropped: the engine reads opaque RGB). */
export function rgbFromImageData(image: { readonly width: number; readonly height: number; readonly data: Uint8ClampedArray | Uint8Array }): RgbImage {
  const { width, height, data } = image;
  if (data.length !== width * height * 4) throw new RangeError(`rgbFromImageData: expected ${width}×${height}×4 bytes, got ${data.length}`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = data[i]!;
    rgb[j + 1] = data[i + 1]!;
    rgb[j + 2] = data[i + 2]!;
  }
  return { width, height, channels: 3, data: rgb };
}

/** Opaque canvas pixels of an RGB image, for putImageData. */
export function imageDataFromRgb(image: RgbImage): ImageData {
  const { width, height, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    rgba[i] = data[j]!;
    rgba[i + 1] = data[j + 1]!;
    rgba[i + 2] = data[j + 2]!;
    rgba[i + 3] = 255;
  }
  return new ImageData(rgba, width, height);
}
