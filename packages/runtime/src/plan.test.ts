import { describe, expect, it } from 'vitest';
import type { ArtifactLayer, TensorInfo } from './artifact-header.js';
import { inferSizes, validateArtifact } from './graph.js';
import { planGraph, tileGrid } from './plan.js';
import { syntheticRfdn } from './synthetic-model.js';
import { TileExecutor } from './tile-executor.js';
import { runReference } from './reference-engine.js';
import { crc32 } from './crc32.js';
import { createSession } from './engine.js';
import type { LoadKernelsOptions } from './wasm-kernels.js';

const kernels: LoadKernelsOptions = { source: new URL('../dist/kernels.wasm', import.meta.url), relaxedSimd: 'off' };
// The worker threads need JavaScript: the test setup bundles it from the sources.
const workerUrl = new URL('../dist/test/engine-worker.mjs', import.meta.url);

/** A valid model of `n` clamp layers in a chain: the longest graph the format allows is 100,000 layers. */
function clampChain(n: number) {
  const tensors: Record<string, TensorInfo> = { lr: { dtype: 'float32', channels: 3 } };
  const layers: ArtifactLayer[] = [];
  let prev = 'lr';
  for (let i = 0; i < n; i++) {
    tensors[`t${i}`] = { dtype: 'float32', channels: 3 };
    layers.push({ id: `c${i}`, op: 'clamp', inputs: [prev], output: `t${i}`, min: 0, max: 1 });
    prev = `t${i}`;
  }
  const blob = new Uint8Array(0);
  return { header: { schemaVersion: 1 as const, scale: 1, input: 'lr', output: prev, tensors, layers, blob: { byteLength: 0, crc32: 0 } }, blob };
}

describe('planGraph', () => {
  it('plans a 99,990-layer chain in linear time, releasing each tensor after its last reader', () => {
    const graph = validateArtifact(clampChain(99_990));
    const small = validateArtifact(clampChain(9_999));
    const time = (g: typeof graph) => {
      const started = performance.now();
      const plan = planGraph(g);
      return { plan, ms: performance.now() - started };
    };
    time(small); // warm-up
    const { ms: tenth } = time(small);
    const { plan, ms } = time(graph);
    // Ten times the layers: about ten times the time when planning is linear, a hundred when it is
    // quadratic (56 s for 40,000 layers before); a ratio within one run, whatever the machine's load.
    expect(ms / tenth).toBeLessThan(35);
    expect(plan.passes).toHaveLength(1);
    const pass = plan.passes[0]!;
    expect(pass.releaseAfter[0]).toEqual([]);
    expect(pass.releaseAfter[1]).toEqual(['t0']);
    expect(pass.releaseAfter[99_989]).toEqual(['t99988']);
  });

  it('releases a tensor read twice by one layer once per read, after that layer', () => {
    const model = clampChain(2);
    model.header.tensors.sum = { dtype: 'float32', channels: 3 };
    model.header.layers.push({ id: 'add', op: 'add', inputs: ['t1', 't1'], output: 'sum' });
    model.header.tensors.out = { dtype: 'float32', channels: 3 };
    model.header.layers.push({ id: 'last', op: 'clamp', inputs: ['sum'], output: 'out', min: 0, max: 1 });
    model.header.output = 'out';
    const graph = validateArtifact(model);
    expect(planGraph(graph).passes[0]!.releaseAfter).toEqual([[], ['t0'], ['t1', 't1'], ['sum']]);
    const image = { width: 2, height: 1, channels: 3 as const, data: Uint8Array.of(0, 50, 100, 150, 200, 250) };
    expect([...runReference(graph, image).data]).toEqual([0, 100, 200, 255, 255, 255]);
  });
});

describe('planGraph stores nothing on the tiling grids but the input', () => {
  it("rfdn: per cell the two sums of σ, ESA's pooled convs in a whole pass; only the pooled grid is stored", () => {
    const graph = validateArtifact(syntheticRfdn({ channels: 12, cells: 3, scale: 4, seed: 2 }));
    const plan = planGraph(graph);
    expect(plan.passes.map((p) => (p.tiled ? 'tiled' : 'whole'))).toEqual([
      'tiled',
      'whole',
      'tiled',
      'tiled',
      'whole',
      'tiled',
      'tiled',
      'whole',
      'tiled',
      'tiled',
    ]);
    expect(plan.passes.map((p) => p.statistics.map((s) => s.phase))).toEqual([
      ['sum'],
      [],
      ['squares'],
      ['sum'],
      [],
      ['squares'],
      ['sum'],
      [],
      ['squares'],
      [],
    ]);
    for (const p of plan.passes) {
      for (const t of p.targets) {
        const tensor = graph.tensors.get(t)!;
        const summed = p.statistics.some((s) => s.name === t && s.phase !== 'stored');
        if (t !== graph.header.output && !summed) expect(tensor.factor, `'${t}' stored`).toBeUndefined();
      }
    }
    // The last pass computes every layer on the tiling grids, from the input and the pooled stores.
    const last = plan.passes.at(-1)!;
    expect(last.targets).toEqual([graph.header.output]);
    expect(last.layers.filter((i) => graph.tensors.get(graph.layers[i]!.layer.output)!.factor !== undefined)).toHaveLength(
      graph.layers.filter((l) => graph.tensors.get(l.layer.output)!.factor !== undefined).length,
    );
  });

  it('the tiles of a pass own every cell of a grid off the tiling grids exactly once', () => {
    const graph = validateArtifact(syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 2 }));
    const plan = planGraph(graph);
    const executor = new TileExecutor(graph, plan);
    const sizes = inferSizes(graph, 61, 47);
    const off = [...graph.tensors.values()].filter((t) => t.factor === undefined);
    expect(off.length).toBeGreaterThan(3);
    for (const tile of [1, 5, 8, 64]) {
      for (const t of off) {
        const s = sizes.get(t.name)!;
        const count = new Uint8Array(s.h * s.w);
        for (const r of tileGrid(61, 47, tile)) {
          const o = executor.ownedRect(t.name, r, sizes);
          for (let y = o.y0; y < o.y1; y++) for (let x = o.x0; x < o.x1; x++) count[y * s.w + x]!++;
        }
        expect(
          count.every((c) => c === 1),
          `${t.name}, tile ${tile}`,
        ).toBe(true);
      }
    }
  });
});

describe('planGraph computes in the pass that reads it what it would otherwise store', () => {
  /**
   * rfdn-bicubic's shape in small: a 48-channel "anchor" conv of the image that only the last pass
   * reads, next to an ADQ scale that cuts the graph into passes. Stored in the first pass, the
   * anchor took 16 times the image's bytes over the whole image.
   */
  function anchorModel() {
    const seededBytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761 + seed) >>> 24) & 0xff);
    const floats = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
    const parts = [
      seededBytes(48 * 27, 1),
      floats(Array.from({ length: 48 }, (_, i) => 0.002 + i * 1e-4)),
      seededBytes(3 * 48, 2),
      floats([0.003, 0.004, 0.005]),
    ];
    const refs: { offset: number; byteLength: number }[] = [];
    let at = 0;
    for (const p of parts) {
      refs.push({ offset: at, byteLength: p.length });
      at += Math.ceil(p.length / 4) * 4;
    }
    const blob = new Uint8Array(at);
    parts.forEach((p, i) => blob.set(p, refs[i]!.offset));
    const tensors: Record<string, TensorInfo> = {
      lr: { dtype: 'float32', channels: 3 },
      qa: { dtype: 'uint8', channels: 3, step: 1 / 255, bits: 8 },
      anchor: { dtype: 'float32', channels: 48 },
      r: { dtype: 'float32', channels: 48 },
      s: { dtype: 'float32', channels: 48 },
      sum: { dtype: 'float32', channels: 48 },
      qs: { dtype: 'uint8', channels: 48, step: 0.02, bits: 8 },
      sr: { dtype: 'float32', channels: 3 },
    };
    const layers: ArtifactLayer[] = [
      { id: 'qa', op: 'quantize', inputs: ['lr'], output: 'qa' },
      {
        id: 'anchor',
        op: 'conv',
        inputs: ['qa'],
        output: 'anchor',
        kernel: [3, 3],
        stride: 1,
        padding: 'same',
        groups: 1,
        weightBits: 8,
        weights: refs[0]!,
        weightScales: refs[1]!,
      },
      { id: 'r', op: 'repeat_channels', inputs: ['lr'], output: 'r', times: 16 },
      { id: 's', op: 'adq_scale', inputs: ['r'], output: 's', statisticsOf: 'r', slope: 1.5, offset: 0, deviation: 'population' },
      { id: 'sum', op: 'add', inputs: ['s', 'anchor'], output: 'sum' },
      { id: 'qs', op: 'quantize', inputs: ['sum'], output: 'qs' },
      {
        id: 'sr',
        op: 'conv',
        inputs: ['qs'],
        output: 'sr',
        kernel: [1, 1],
        stride: 1,
        padding: 'same',
        groups: 1,
        weightBits: 8,
        weights: refs[2]!,
        weightScales: refs[3]!,
      },
    ];
    return {
      header: { schemaVersion: 1 as const, scale: 1, input: 'lr', output: 'sr', tensors, layers, blob: { byteLength: blob.length, crc32: crc32(blob) } },
      blob,
    };
  }

  it('stores no anchor: it is computed, tile by tile, in the pass that reads it', () => {
    const plan = planGraph(validateArtifact(anchorModel()));
    // σ of r: its sum, then its squared deviations, in two passes of r alone; nothing is stored.
    expect(plan.passes.map((p) => p.targets)).toEqual([['r'], ['r'], ['sr']]);
    expect(plan.passes.map((p) => p.statistics)).toEqual([[{ name: 'r', phase: 'sum' }], [{ name: 'r', phase: 'squares' }], []]);
    expect(plan.passes.map((p) => p.layers)).toEqual([[2], [2], [0, 1, 2, 3, 4, 5, 6]]);
    expect(plan.freeAfter).toEqual([[], [], ['lr']]);
  });

  it("'fast' stores no anchor either: nothing of the first pass reads it, so the pass that does computes it", () => {
    const plan = planGraph(validateArtifact(anchorModel()), { memory: 'fast' });
    expect(plan.passes.flatMap((p) => p.targets)).not.toContain('anchor');
    expect(plan.passes.flatMap((p) => p.targets)).toContain('r');
    const last = plan.passes[plan.passes.length - 1]!;
    expect(last.layers).toEqual(expect.arrayContaining([0, 1, 4]));
    expect(plan.passes.filter((p) => p.layers.includes(1))).toHaveLength(1);
  });

  it('gives the same bytes as the scalar specification, on any tile size and on two threads', async () => {
    const model = anchorModel();
    const image = { width: 23, height: 17, channels: 3 as const, data: Uint8Array.from({ length: 23 * 17 * 3 }, (_, i) => (i * 53 + (i >> 4)) & 0xff) };
    const expected = runReference(validateArtifact(model), image).data;
    for (const [tile, threads] of [
      [5, 1],
      [64, 1],
      [7, 2],
    ] as const) {
      const session = await createSession(model, { tile, threads, kernels, workerUrl });
      const out = await session.upscale(image);
      await session.dispose();
      expect(Buffer.from(out.data).equals(Buffer.from(expected)), `tile ${tile}, ${threads} thread(s)`).toBe(true);
    }
  });
});
