import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerOp } from './artifact-header.js';
import { createSession } from './engine.js';
import type { InferenceEvent } from './events.js';
import { inferSizes, validateArtifact } from './graph.js';
import type { RgbImage } from './image.js';
import { layOutPasses } from './memory-budget.js';
import { planGraph } from './plan.js';
import { runReference } from './reference-engine.js';
import { TileExecutor } from './tile-executor.js';
import { syntheticRfdn, type SyntheticRfdnOptions } from './synthetic-model.js';
import { seeded } from './test-helpers.js';
import { loadIntegerKernels, supportsRelaxedSimd, type IntegerKernels, type LoadKernelsOptions } from './wasm-kernels.js';

const kernelFiles: LoadKernelsOptions = {
  source: new URL('../dist/kernels.wasm', import.meta.url),
  relaxedSource: new URL('../dist/kernels-relaxed.wasm', import.meta.url),
};
const workerUrl = new URL('../dist/test/engine-worker.mjs', import.meta.url);
let kernels: IntegerKernels;
let plain: IntegerKernels;
beforeAll(async () => {
  kernels = await loadIntegerKernels(kernelFiles);
  plain = await loadIntegerKernels({ source: kernelFiles.source, relaxedSimd: 'off' });
});

/** Gradients plus noise: values across the whole range, like a photo. */
function randomImage(width: number, height: number, seed: number): RgbImage {
  const r = seeded(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, (((x * (c + 1) + y * 3) * 7) % 256) + r.int(-20, 20)));
      }
    }
  }
  return { width, height, channels: 3, data };
}

function expectSameImage(got: RgbImage, want: RgbImage, what: string) {
  expect([got.width, got.height, got.channels]).toEqual([want.width, want.height, 3]);
  const first = got.data.findIndex((v, i) => v !== want.data[i]);
  expect(first, `${what}: first difference at byte ${first}`).toBe(-1);
}

const SMALL: SyntheticRfdnOptions = { channels: 12, cells: 2, scale: 2 };

describe('integer engine against the scalar reference', () => {
  it('the test models use every layer type', () => {
    const ops = new Set(syntheticRfdn({ ...SMALL, seed: 7 }).header.layers.map((l) => l.op));
    const all: LayerOp[] = [
      'conv',
      'add',
      'mul',
      'concat',
      'pixel_shuffle',
      'repeat_channels',
      'max_pool',
      'bilinear_resize',
      'sigmoid',
      'adq_scale',
      'affine',
      'quantize',
      'clamp',
    ];
    expect([...ops].sort()).toEqual([...all].sort());
    const convs = syntheticRfdn({ ...SMALL, seed: 7 }).header.layers.filter((l) => l.op === 'conv');
    expect(new Set(convs.map((c) => c.op === 'conv' && c.weightBits))).toEqual(new Set([4, 8]));
    expect(convs.some((c) => c.op === 'conv' && c.groups === 2)).toBe(true);
  });

  const cases: { name: string; model: SyntheticRfdnOptions; size: [number, number]; tiles: number[] }[] = [
    { name: 'mixed 4/8-bit, ESA, ADQ, x2', model: { ...SMALL, seed: 7 }, size: [23, 19], tiles: [1024, 8, 5] },
    {
      name: 'int8, sample deviation, one cell, x3',
      model: { channels: 12, cells: 1, scale: 3, bits: 'int8', deviation: 'sample', seed: 3 },
      size: [17, 21],
      tiles: [1024, 7],
    },
    { name: 'three cells, x4', model: { channels: 12, cells: 3, scale: 4, seed: 11 }, size: [18, 16], tiles: [1024, 6] },
    // Wide enough that every cell's ESA pools more than one cell per axis; tiles that cut the pooled grid unevenly.
    { name: 'four cells with ESA and ADQ, C = 24, x2', model: { channels: 24, cells: 4, scale: 2, seed: 13 }, size: [41, 30], tiles: [1024, 16, 9] },
    // The anchor (one input channel per group) is stored by an early pass and added to the later
    // upsampling conv's output inside that conv.
    { name: 'bicubic anchor, one cell, x4', model: { channels: 12, cells: 1, scale: 4, anchor: true, seed: 17 }, size: [19, 22], tiles: [1024, 7] },
    {
      name: 'no ESA, no ADQ (one tiled pass), x4',
      model: { channels: 24, cells: 2, scale: 4, esa: false, adq: false, seed: 5 },
      size: [13, 9],
      tiles: [1024, 4, 1],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: equal bit for bit, untiled and tiled`, async () => {
      const model = syntheticRfdn(c.model);
      const image = randomImage(c.size[0], c.size[1], 1);
      const want = runReference(validateArtifact(model), image);
      // The model does not collapse to a constant image.
      expect(new Set(want.data).size).toBeGreaterThan(40);
      for (const tile of c.tiles) {
        for (const k of [kernels, plain]) {
          for (const memory of ['fast', 'bounded'] as const) {
            const session = await createSession(model, { kernels: k, tile, memory });
            expectSameImage(await session.upscale(image), want, `${c.name}, tile ${tile}, relaxed ${k.relaxedSimd}, ${memory}`);
            await session.dispose();
          }
        }
      }
    });
  }

  it('uses the relaxed kernel where it is available', () => {
    expect(kernels.relaxedSimd).toBe(supportsRelaxedSimd());
  });

  it('reads a model from a Node Buffer that shares a pool with other data', async () => {
    const { encodeArtifact } = await import('./container.js');
    const model = syntheticRfdn({ ...SMALL, seed: 3 });
    const bytes = encodeArtifact(model.header, model.blob);
    // What fs.readFile returns for small files: a view into a larger shared allocation.
    const pool = Buffer.alloc(bytes.length + 4096, 0x5a);
    pool.set(bytes, 1000);
    const fromPool = pool.subarray(1000, 1000 + bytes.length);
    const image = randomImage(20, 18, 4);
    const session = await createSession(fromPool, { kernels });
    expectSameImage(await session.upscale(image), runReference(validateArtifact(model), image), 'pooled buffer');
    await session.dispose();
  });

  it('takes encoded bytes and reports the model', async () => {
    const { encodeArtifact } = await import('./container.js');
    const model = syntheticRfdn({ ...SMALL, seed: 2 });
    const session = await createSession(encodeArtifact(model.header, model.blob), { kernels, memory: 'bounded' });
    expect(session.info).toMatchObject({ engine: 'wasm-int8', scale: 2, threads: 1, tile: 128, passes: 7, memory: 'bounded' });
    const fast = await createSession(encodeArtifact(model.header, model.blob), { kernels });
    // The default keeps what later passes read: fewer passes, each layer once.
    expect(fast.info).toMatchObject({ memory: 'fast' });
    expect(fast.info.passes).toBeLessThan(session.info.passes);
    await fast.dispose();
    expect(session.info.macsPerLrPixel).toBeGreaterThan(1000);
    expect(session.info.bitOpsPerLrPixel).toBeGreaterThan(session.info.macsPerLrPixel!);
    await session.dispose();
  });

  it('refuses images too small for ESA, and bad images', async () => {
    const session = await createSession(syntheticRfdn({ ...SMALL, seed: 2 }), { kernels });
    await expect(session.upscale(randomImage(8, 30, 1))).rejects.toThrow(/layer '.*': the image is too small/);
    await expect(session.upscale({ width: 4, height: 4, channels: 3, data: new Uint8Array(5) })).rejects.toThrow(RangeError);
    await session.dispose();
  });
});

describe('session: progress, abort, threads', () => {
  it('reports one event per tile of every pass', async () => {
    const model = syntheticRfdn({ ...SMALL, seed: 4 });
    const events: InferenceEvent[] = [];
    const session = await createSession(model, { kernels, tile: 8, memory: 'bounded', onProgress: (e) => events.push(e) });
    await session.upscale(randomImage(20, 17, 2));
    // 5 tiled passes of 3×3 tiles (per cell the two sums of σ, then the last) and 2 whole-image passes (ESA's pooled convs).
    expect(events[0]).toEqual({ status: 'start', tiles: 47, engine: 'wasm-int8', threads: 1 });
    expect(events.filter((e) => e.status === 'tile').map((e) => e.status === 'tile' && e.index)).toEqual(Array.from({ length: 47 }, (_, i) => i));
    expect(events.at(-1)!.status).toBe('done');
    await session.dispose();
  });

  it('aborts between tiles with an AbortError', async () => {
    const session = await createSession(syntheticRfdn({ ...SMALL, seed: 4 }), { kernels, tile: 4 });
    const controller = new AbortController();
    let tiles = 0;
    const run = session.upscale(randomImage(20, 17, 2), {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.status === 'tile' && ++tiles === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tiles).toBe(3);
    await expect(session.upscale(randomImage(20, 17, 2), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    // The session stays usable.
    expect((await session.upscale(randomImage(20, 17, 2))).width).toBe(40);
    await session.dispose();
  });

  it('gives identical results on 2 worker threads', async () => {
    const model = syntheticRfdn({ ...SMALL, seed: 9 });
    const image = randomImage(21, 18, 3);
    const want = runReference(validateArtifact(model), image);
    const session = await createSession(model, { threads: 2, tile: 6, kernels: kernelFiles, workerUrl, memory: 'bounded' });
    try {
      expect(session.info.threads).toBe(2);
      const events: InferenceEvent[] = [];
      expectSameImage(await session.upscale(image, { onProgress: (e) => events.push(e) }), want, '2 threads');
      expect(events.filter((e) => e.status === 'tile')).toHaveLength(5 * 4 * 3 + 2);
      const controller = new AbortController();
      const aborted = session.upscale(image, { signal: controller.signal, onProgress: (e) => e.status === 'tile' && controller.abort() });
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
      expectSameImage(await session.upscale(image), want, '2 threads after an abort');
    } finally {
      await session.dispose();
    }
  });
});

describe('profiling a session', () => {
  it('times every layer that runs, with the same bytes, and resets', async () => {
    const model = syntheticRfdn({ ...SMALL, seed: 11 });
    const image = randomImage(23, 19, 5);
    const want = runReference(validateArtifact(model), image);
    const session = await createSession(model, { tile: 8, kernels, profile: true });
    try {
      expectSameImage(await session.upscale(image), want, 'profiled');
      expectSameImage(await session.upscale(image), want, 'profiled, second upscale');
      const profile = session.profile();
      expect(profile.upscales).toBe(2);
      expect(profile.layers.map((l) => l.id)).toEqual(model.header.layers.map((l) => l.id));
      const convs = profile.layers.filter((l) => l.op === 'conv');
      expect(convs.length).toBeGreaterThan(0);
      for (const c of convs) expect(c.ms, c.id).toBeGreaterThan(0);
      const sum = profile.layers.reduce((s, l) => s + l.ms, 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThanOrEqual(profile.totalMs);
      session.resetProfile();
      expect(session.profile()).toMatchObject({ upscales: 0, totalMs: 0 });
      expect(session.profile().layers.every((l) => l.ms === 0)).toBe(true);
    } finally {
      await session.dispose();
    }
  });

  it('fuses the anchor add, the shuffle’s quantizer and the output clamp', async () => {
    const model = syntheticRfdn({ channels: 12, cells: 1, scale: 4, anchor: true, seed: 17 });
    const image = randomImage(19, 22, 3);
    const session = await createSession(model, { kernels, profile: true });
    try {
      expectSameImage(await session.upscale(image), runReference(validateArtifact(model), image), 'anchor');
      // The upsampling conv adds the anchor itself: the add layer never runs.
      const layers = model.header.layers;
      const anchor = layers.find((l) => l.op === 'conv' && l.groups === 3)!;
      const add = layers.find((l) => l.op === 'add' && l.inputs.includes(anchor.output))!;
      const upsampling = layers.find((l) => l.output === add.inputs.find((i) => i !== anchor.output))!;
      expect(layers.indexOf(upsampling)).toBeLessThan(layers.indexOf(anchor));
      const ms = new Map(session.profile().layers.map((l) => [l.id, l.ms]));
      expect(ms.get(upsampling.id)).toBeGreaterThan(0);
      expect(ms.get(add.id)).toBe(0);
      // The tail conv's input codes come from the pixel shuffle: its quantize layer never runs.
      const shuffle = layers.find((l) => l.op === 'pixel_shuffle')!;
      const quantize = layers.find((l) => l.op === 'quantize' && l.inputs[0] === shuffle.output)!;
      expect(ms.get(shuffle.id)).toBeGreaterThan(0);
      expect(ms.get(quantize.id)).toBe(0);
      // The tail conv adds the shuffled image and clamps the sum to the output range itself.
      const clamp = layers.find((l) => l.op === 'clamp')!;
      expect(ms.get(clamp.id)).toBe(0);
    } finally {
      await session.dispose();
    }
  });

  it('refuses a pool, and a profile of a session that does not profile', async () => {
    const model = syntheticRfdn({ ...SMALL, seed: 11 });
    await expect(createSession(model, { threads: 2, profile: true, kernels: kernelFiles, workerUrl })).rejects.toThrow(/profile needs threads 1/);
    const session = await createSession(model, { kernels });
    try {
      expect(() => session.profile()).toThrow(/without \{ profile: true \}/);
    } finally {
      await session.dispose();
    }
  });
});

describe('bands of summed rows on worker threads', () => {
  it('four cells, tiles of 5 on 2 threads: the workers fill the next band while one is summed, with the same bytes', async () => {
    const model = syntheticRfdn({ channels: 24, cells: 4, scale: 2, seed: 13 });
    const image = randomImage(41, 30, 1);
    const want = runReference(validateArtifact(model), image);
    for (const memory of ['bounded', 'fast'] as const) {
      const session = await createSession(model, { threads: 2, tile: 5, kernels: kernelFiles, workerUrl, memory });
      try {
        expectSameImage(await session.upscale(image), want, `4 cells, 2 threads, ${memory}`);
        expectSameImage(await session.upscale(image), want, `4 cells, 2 threads, ${memory}, again`);
      } finally {
        await session.dispose();
      }
    }
  });
});

describe('the kernel heap a tile needs, measured before the upscale', () => {
  it('is what the tiles then hold', async () => {
    const model = syntheticRfdn({ ...SMALL, seed: 5 });
    const graph = validateArtifact(model);
    const plan = planGraph(graph);
    const image = randomImage(23, 19, 6);
    const sizes = inferSizes(graph, 19, 23);
    for (const tile of [1024, 8]) {
      const k = await loadIntegerKernels(kernelFiles);
      const session = await createSession(model, { kernels: k, tile, memory: 'bounded' });
      // The first upscale places the convs' weights and the bilinear taps; the second only tiles.
      await session.upscale(image);
      const base = k.heap.allocated;
      k.heap.resetPeak();
      await session.upscale(image);
      const held = k.heap.peak - base;
      await session.dispose();
      const { memory } = layOutPasses(graph, plan, sizes, tile, 1, new TileExecutor(graph, plan));
      // One tile: exactly; many: the tiles it measures (the first, an inner one, the last) hold the most, or nearly.
      if (tile === 1024) expect(held).toBe(memory.tileHeap);
      else {
        expect(held).toBeGreaterThan(0);
        expect(held).toBeLessThanOrEqual(memory.tileHeap * 1.05);
        expect(held).toBeGreaterThanOrEqual(memory.tileHeap * 0.95);
      }
    }
  });
});
