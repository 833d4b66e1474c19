import { createSession, syntheticRfdn, validateArtifact, type RgbImage, type SyntheticRfdnOptions } from '@quantnas/runtime';
import { describe, expect, it } from 'vitest';
import { runtimeFiles } from './runtime-files.js';
import { createTfjsEngine, graphMacs } from './tfjs-engine.js';

function image(width: number, height: number, seed: number): RgbImage {
  // Smooth structure plus noise, like a photo: gradients, an edge and texture.
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const base = 40 + 3 * x + 5 * y + (x > width / 2 ? 60 : 0) + 20 * c;
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, base + ((s >>> 24) % 24) - 12));
      }
    }
  }
  return { width, height, channels: 3, data };
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sum / a.length));
}

// The last number: PSNR of the float network against the int8 engine, measured (dB).
const MODELS: [string, SyntheticRfdnOptions, number, number, number][] = [
  ['x2, mixed 4/8-bit, ESA + ADQ (population)', { channels: 12, cells: 1, scale: 2, seed: 4 }, 23, 19, 43.3],
  ['x3, 2 cells, ADQ (sample)', { channels: 12, cells: 2, scale: 3, seed: 7, deviation: 'sample' }, 17, 15, 41.29],
  ['x4, int8, ESA + ADQ', { channels: 24, cells: 1, scale: 4, seed: 2, bits: 'int8' }, 16, 16, 54.14],
  ['x4, no ESA, no ADQ', { channels: 12, cells: 2, scale: 4, seed: 9, esa: false, adq: false }, 9, 11, 46.67],
];

describe('tfjs-wasm engine', () => {
  it.each(MODELS)('fake-quant agrees with the int8 engine: %s', async (_name, options, width, height, floatPsnr) => {
    const artifact = syntheticRfdn(options);
    const graph = validateArtifact(artifact);
    const lr = image(width, height, options.seed ?? 1);
    const session = await createSession(artifact, runtimeFiles());
    const int8 = await session.upscale(lr);
    await session.dispose();
    const fake = await createTfjsEngine(graph, 'fake-quant');
    const fp32 = await createTfjsEngine(graph, 'fp32');
    try {
      const out = await fake.upscale(lr);
      expect([out.width, out.height]).toEqual([int8.width, int8.height]);
      // Fake quantization computes the int8 engine's codes exactly.
      expect(psnr(out.data, int8.data)).toBe(Infinity);
      // The float network is the same function without rounding: close, not equal.
      const float = await fp32.upscale(lr);
      expect([float.width, float.height]).toEqual([int8.width, int8.height]);
      expect(psnr(float.data, int8.data)).toBeCloseTo(floatPsnr, 1);
    } finally {
      fake.dispose();
      fp32.dispose();
    }
  });

  it('is exact on a model whose steps are float32 values', async () => {
    const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 3 });
    const header = structuredClone(artifact.header) as typeof artifact.header & { tensors: Record<string, { step?: number }> };
    for (const t of Object.values(header.tensors)) if (t.step !== undefined) t.step = Math.fround(t.step);
    const graph = validateArtifact({ header, blob: artifact.blob });
    const lr = image(19, 17, 5);
    const session = await createSession({ header, blob: artifact.blob }, runtimeFiles());
    const int8 = await session.upscale(lr);
    await session.dispose();
    const engine = await createTfjsEngine(graph, 'fake-quant');
    const out = await engine.upscale(lr);
    engine.dispose();
    expect(Buffer.from(out.data).equals(Buffer.from(int8.data))).toBe(true);
  });

  it('names the layer when the image is too small, and counts MACs', async () => {
    const graph = validateArtifact(syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 4 }));
    const engine = await createTfjsEngine(graph, 'fp32');
    await expect(engine.upscale(image(6, 6, 1))).rejects.toThrow(/too small/);
    engine.dispose();
    const stated = graph.header.metadata?.cost?.macsPerLrPixel;
    expect(stated).toBeGreaterThan(0);
    // ESA's strided branch makes the count per pixel depend a little on the size.
    expect(graphMacs(graph, 64, 64) / (64 * 64) / stated!).toBeCloseTo(1, 1);
  });
});
