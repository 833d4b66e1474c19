import { createRng, type ImageF32, type ImageU8 } from '@quantnas/data';

/** Small deterministic PRNG so that test images are reproducible. */
export function rng(seed: number): () => number {
  const stream = createRng(seed);
  return () => stream.next();
}

export function u8(width: number, height: number, channels: 1 | 3, values: ArrayLike<number>): ImageU8 {
  return { width, height, channels, data: Uint8Array.from(values) };
}

export function f32(width: number, height: number, channels: 1 | 3, values: ArrayLike<number>): ImageF32 {
  return { width, height, channels, data: Float32Array.from(values) };
}

export function randomU8(width: number, height: number, channels: 1 | 3, seed: number): ImageU8 {
  const r = rng(seed);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { width, height, channels, data };
}

/** A smooth image (gradients plus a little texture), more like a photo than uniform noise. */
export function smoothU8(width: number, height: number, channels: 1 | 3, seed: number): ImageU8 {
  const r = rng(seed);
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 128 + 80 * Math.sin((x + 3 * c) / 5) * Math.cos(y / 7) + 20 * (r() - 0.5);
        data[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width, height, channels, data };
}

/** Adds seeded Gaussian-like noise of standard deviation `sigma`, clamped to uint8. */
export function addNoise(img: ImageU8, sigma: number, seed: number): ImageU8 {
  const r = rng(seed);
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) {
    // Sum of 12 uniforms minus 6: mean 0, variance 1.
    let g = -6;
    for (let k = 0; k < 12; k++) g += r();
    data[i] = Math.max(0, Math.min(255, Math.round(img.data[i] + sigma * g)));
  }
  return { ...img, data };
}
