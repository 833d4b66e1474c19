import { describe, expect, it } from 'vitest';
import type { ArtifactLayer, TensorInfo } from './artifact-header.js';
import { crc32 } from './crc32.js';
import { createSession } from './engine.js';
import { syntheticRfdn } from './synthetic-model.js';
import type { LoadKernelsOptions } from './wasm-kernels.js';

const kernels: LoadKernelsOptions = { source: new URL('../dist/kernels.wasm', import.meta.url), relaxedSimd: 'off' };

/**
 * A small file that claims a huge tensor: the input repeated to `channels` channels, quantized, and
 * a 1×1 conv back to RGB (int4 weights: channels × 3 / 2 bytes).
 */
function wideModel(channels: number) {
  const tensors: Record<string, TensorInfo> = {
    lr: { dtype: 'float32', channels: 3 },
    wide: { dtype: 'float32', channels },
    q: { dtype: 'uint8', channels, step: 1 / 255, bits: 8 },
    sr: { dtype: 'float32', channels: 3 },
  };
  const weightBytes = (channels * 3) / 2;
  const blob = new Uint8Array(weightBytes + 12);
  new DataView(blob.buffer).setFloat32(weightBytes, 0.01, true);
  new DataView(blob.buffer).setFloat32(weightBytes + 4, 0.01, true);
  new DataView(blob.buffer).setFloat32(weightBytes + 8, 0.01, true);
  const layers: ArtifactLayer[] = [
    { id: 'repeat', op: 'repeat_channels', inputs: ['lr'], output: 'wide', times: channels / 3 },
    { id: 'quantize', op: 'quantize', inputs: ['wide'], output: 'q' },
    {
      id: 'conv', op: 'conv', inputs: ['q'], output: 'sr', kernel: [1, 1], stride: 1, padding: 'same', groups: 1, weightBits: 4,
      weights: { offset: 0, byteLength: weightBytes }, weightScales: { offset: weightBytes, byteLength: 12 },
    },
  ];
  return { header: { schemaVersion: 1 as const, scale: 1, input: 'lr', output: 'sr', tensors, layers, blob: { byteLength: blob.length, crc32: crc32(blob) } }, blob };
}

const image = (w: number, h: number) => ({ width: w, height: h, channels: 3 as const, data: new Uint8Array(w * h * 3) });

describe('the engine checks what a model claims before allocating it', () => {
  it('a 49,152-channel tensor on 256×256 fails at once, naming the tensor and the limit, with memory unchanged', async () => {
    const session = await createSession(wideModel(49_152), { kernels });
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    await expect(session.upscale(image(256, 256))).rejects.toThrow(
      /^the model's tensor 'wide' \(49152 channels\) needs 3\.0 GiB per tile of 128x128, over the engine's limit of 1\.0 GiB per tile tensor/,
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    await session.dispose();
  });

  it('whole-image tensors over the store limit fail before any is allocated', async () => {
    // ADQ stores each cell's input over the whole image: 48 float channels, 192 bytes per pixel.
    const session = await createSession(syntheticRfdn({ channels: 48, cells: 2, scale: 2, seed: 3 }), { tile: 16, kernels });
    const rss = process.memoryUsage().rss;
    await expect(session.upscale(image(8192, 8192))).rejects.toThrow(/^the model would hold [\d.]+ GiB of whole-image tensors for a 8192x8192 input .*over the engine's limit of 3\.0 GiB$/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(512 * 2 ** 20);
    await session.dispose();
  });

  it('a narrow model on a small image still runs', async () => {
    const session = await createSession(wideModel(48), { kernels });
    const out = await session.upscale(image(9, 7));
    expect([out.width, out.height]).toEqual([9, 7]);
    await session.dispose();
  });
});
