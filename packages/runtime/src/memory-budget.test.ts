import { describe, expect, it } from 'vitest';
import type { ArtifactLayer, TensorInfo } from './artifact-header.js';
import { crc32 } from './crc32.js';
import { createSession } from './engine.js';
import { inferSizes, validateArtifact } from './graph.js';
import { chooseMemory, layOutPasses, MEMORY_BUDGET, wholeImageBuffers } from './memory-budget.js';
import { planGraph } from './plan.js';
import { syntheticRfdn } from './synthetic-model.js';
import { TileExecutor } from './tile-executor.js';
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
      id: 'conv',
      op: 'conv',
      inputs: ['q'],
      output: 'sr',
      kernel: [1, 1],
      stride: 1,
      padding: 'same',
      groups: 1,
      weightBits: 4,
      weights: { offset: 0, byteLength: weightBytes },
      weightScales: { offset: weightBytes, byteLength: 12 },
    },
  ];
  return {
    header: { schemaVersion: 1 as const, scale: 1, input: 'lr', output: 'sr', tensors, layers, blob: { byteLength: blob.length, crc32: crc32(blob) } },
    blob,
  };
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

  it('whole-image buffers over the limit fail before any is allocated', async () => {
    // x16: the result image alone is 768 bytes per LR pixel, 3 GiB at 2048×2048.
    const session = await createSession(syntheticRfdn({ channels: 12, cells: 1, scale: 16, seed: 3 }), { kernels });
    const rss = process.memoryUsage().rss;
    await expect(session.upscale(image(2048, 2048))).rejects.toThrow(
      /^the upscale would hold 3\.[0-9] GiB of whole-image buffers for a 2048x2048 input \(the 32768x32768 result image takes 3\.0 GiB\), over the engine's limit of 3\.0 GiB$/,
    );
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
    await session.dispose();
  });

  it('a narrow model on a small image still runs', async () => {
    const session = await createSession(wideModel(48), { kernels });
    const out = await session.upscale(image(9, 7));
    expect([out.width, out.height]).toEqual([9, 7]);
    await session.dispose();
  });
});

describe('what an upscale holds is bounded by the tile, not by the image', () => {
  const plan = (model: ReturnType<typeof syntheticRfdn>, width: number, height: number, tile = 128, threads = 2) => {
    const graph = validateArtifact(model);
    const p = planGraph(graph);
    return layOutPasses(graph, p, inferSizes(graph, height, width), tile, threads, new TileExecutor(graph, p)).memory;
  };
  const MIB = 2 ** 20;

  it('a wide 4-cell rfdn (ESA, ADQ, concat of the cells): the same working memory at 1920×1080 and 3840×2160', () => {
    const model = syntheticRfdn({ channels: 48, cells: 4, scale: 4, seed: 1 });
    const hd = plan(model, 1920, 1080);
    const uhd = plan(model, 3840, 2160);
    // Stored over the whole image before: each cell's input, its ESA input and branch, 192 bytes per
    // LR pixel each (2.5 GiB at 1920×1080). Now only ESA's pooled grid (1/36 of the pixels) is stored.
    for (const m of [hd, uhd]) {
      expect(m.stores).toBeLessThan(m.images / 8);
      expect(m.bands).toBeLessThanOrEqual(2 * MEMORY_BUDGET.bands);
      expect(m.peak - m.images - m.stores).toBeLessThan(128 * MIB);
    }
    expect(uhd.tileHeap).toBeLessThanOrEqual(hd.tileHeap * 1.05);
    expect(uhd.peak - uhd.images - uhd.stores).toBeLessThanOrEqual((hd.peak - hd.images - hd.stores) * 1.05);
    expect(hd.peak - hd.images).toBeLessThan(160 * MIB);
  });

  it('an upscale holds, besides the input and result images, buffers that do not grow with the image', async () => {
    // 4 cells with ESA and ADQ: each pass used to store the cells' inputs and ESA's branches whole.
    const session = await createSession(syntheticRfdn({ channels: 12, cells: 4, scale: 2, seed: 1 }), { kernels, tile: 32, memory: 'bounded' });
    const extra: number[] = [];
    for (const [w, h] of [
      [64, 48],
      [128, 96],
    ] as const) {
      const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 2654435761) >>> 24);
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      await session.upscale(
        { width: w, height: h, channels: 3, data },
        {
          onProgress: () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)),
        },
      );
      // The float32 input and the RGB result: 12 + 2 · 2 · 3 bytes per LR pixel.
      extra.push(peak - before - w * h * 24);
    }
    // A band of 32 rows of a 12-channel float32 tensor and ESA's pooled tensors: 220 KiB at 128×96
    // (3.2 MiB when the passes stored their tensors, growing with the image: 0.9 MiB at 64×48).
    expect(extra[1]!).toBeLessThan(512 * 1024);
    expect(extra[1]! - extra[0]!).toBeLessThan(256 * 1024);
    await session.dispose();
  });

  it('a smaller tile holds less', () => {
    const model = syntheticRfdn({ channels: 48, cells: 4, scale: 4, seed: 1 });
    expect(plan(model, 1920, 1080, 64).tileHeap).toBeLessThan(plan(model, 1920, 1080, 128).tileHeap / 2);
  });

  it('accepts a C = 48, 2-cell model at 8192×8192 that whole-image stores put over the limit before', () => {
    const m = plan(syntheticRfdn({ channels: 48, cells: 2, scale: 2, seed: 3 }), 8192, 8192, 16);
    expect(m.images).toBe(8192 * 8192 * 12 + 16384 * 16384 * 3);
    expect(m.peak).toBeLessThan(MEMORY_BUDGET.stores);
  });

  it('refuses a tile whose tensors are over the heap limit, naming the tile', () => {
    expect(() => plan(syntheticRfdn({ channels: 48, cells: 4, scale: 4, seed: 1 }), 1100, 1100, 1100, 1)).toThrow(
      /^the model needs [\d.]+ GiB of tensors per tile of \d+x\d+ \(pass \d+ of 13\), over the engine's limit of 1\.0 GiB per tile \(a smaller tile lowers it\)$/,
    );
  });
});

describe('fast or bounded: the whole-image buffers decide', () => {
  const graph = validateArtifact(syntheticRfdn({ channels: 12, cells: 2, scale: 4, seed: 5 }));
  const buffers = (memory: 'fast' | 'bounded', w: number, h: number) => {
    const b = wholeImageBuffers(graph, planGraph(graph, { memory }), inferSizes(graph, h, w));
    return b.images + b.stores;
  };

  it('the fast plan stores the cells whole; the bounded one only the input, the result and the pooled grid', () => {
    // Per LR pixel: the float32 input (12 bytes) and the RGB result (3 · 16 bytes) in both plans.
    const images = 640 * 480 * (12 + 48);
    expect(buffers('fast', 640, 480)).toBeGreaterThan(images + 640 * 480 * 12 * 4 * 2);
    expect(buffers('bounded', 640, 480) - images).toBeLessThan(640 * 480 * 2);
  });

  it('chooses fast while its buffers fit the budget, bounded beyond', () => {
    const fast = buffers('fast', 640, 480);
    expect(chooseMemory(graph, 640, 480, fast)).toBe('fast');
    expect(chooseMemory(graph, 640, 480, fast - 1)).toBe('bounded');
  });
});
