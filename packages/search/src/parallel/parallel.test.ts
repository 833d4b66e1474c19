import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import { resolveDataRoot } from '@quantnas/data';
import { createSupernet, getSpace, type SupernetOptions } from '@quantnas/search-spaces';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { benchSearchStep, benchTrainStep } from '../bench.js';
import { readCheckpoint } from '../checkpoint.js';
import { runSearch, type SearchOptions } from '../search.js';
import { shardSizes, startDataParallel, type DataParallel } from './coordinator.js';
import { shardGradients } from './replica.js';
import { tinyBasicGenotype, tinySearchOptions } from '../test-helpers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    searchWorker: string;
  }
}

const script = inject('searchWorker');
const dataRoot = resolveDataRoot();
const work = mkdtempSync(join(tmpdir(), 'quantnas-parallel-'));
let n = 0;
const outDir = () => join(work, `run${n++}`);

const tiny = (out: string, extra: Partial<SearchOptions> = {}): SearchOptions => tinySearchOptions(out, dataRoot, { batchSize: 4, workers: 2, ...extra });

beforeAll(async () => {
  await initBackend('wasm');
});

function randomBatch(rows: number, size: number, scale: number, seed: number): PatchBatch {
  const lr = tf.randomUniform([rows, size, size, 3], 0, 1, 'float32', seed);
  const hr = tf.randomUniform([rows, size * scale, size * scale, 3], 0, 1, 'float32', seed + 1);
  const batch = {
    lr: lr.dataSync() as Float32Array,
    hr: hr.dataSync() as Float32Array,
    lrShape: [rows, size, size, 3],
    hrShape: [rows, size * scale, size * scale, 3],
  };
  tf.dispose([lr, hr]);
  return batch as unknown as PatchBatch;
}

async function values(grads: Map<string, tf.Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, g] of grads) out.set(name, (await g.data()) as Float32Array);
  tf.dispose([...grads.values()]);
  return out;
}

function expectClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>) {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, x] of a) {
    const y = b.get(name)!;
    let scale = 0;
    for (const v of x) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * scale + 1e-9);
  }
}

describe('shardSizes', () => {
  it('splits a batch as evenly as possible and refuses more workers than patches', () => {
    expect(shardSizes(8, 2)).toEqual([4, 4]);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
    expect(() => shardSizes(1, 2)).toThrow(/cannot be split over 2 workers/);
  });
});

describe('data-parallel gradients', () => {
  // No batch statistics (ADQ off) and no noise (fp): the summed shard gradients must equal the batch's.
  const options: SupernetOptions = { mode: 'fp', adq: false, seed: 3, channels: 6, cells: 1 };
  const spec = getSpace('basic');
  const batch = randomBatch(4, 8, spec.scale, 11);
  let parallel: DataParallel | undefined;
  afterAll(() => parallel?.close());

  it('equal the full-batch gradients of one replica, α terms counted once', async () => {
    const single = createSupernet(spec, options);
    const net = createSupernet(spec, options);
    try {
      // Move α off zero so that the entropy and BitOps gradients are not trivial.
      for (const [, v] of [...single.alphaVariables(), ...net.alphaVariables()]) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 7));
      parallel = await startDataParallel({
        replicas: 2,
        net,
        backend: 'wasm',
        network: { kind: 'supernet', spec, options },
        replay: null,
        lrPatchSize: 8,
        script,
      });
      const terms = { entropy: 'entropy' as const, entropyWeight: 0.1, penalty: 0.5, b0: 1e6 };
      const full = (kind: 'alpha' | 'w') =>
        shardGradients(single, kind, tf.tensor4d(batch.lr, batch.lrShape), tf.tensor4d(batch.hr, batch.hrShape), 1, kind === 'alpha' ? terms : undefined);

      const fullW = await full('w');
      const parW = await parallel.gradients('w', batch);
      expect(Math.abs(parW.l1 - fullW.l1)).toBeLessThan(1e-5 * fullW.l1);
      expectClose(await values(fullW.grads), await values(parW.grads));

      const fullA = await full('alpha');
      const parA = await parallel.gradients('alpha', batch, terms);
      expect(parA.terms).toEqual(fullA.terms);
      expectClose(await values(fullA.grads), await values(parA.grads));
    } finally {
      await parallel?.close();
      single.dispose();
      net.dispose();
    }
  });
});

describe('benchSearchStep on 2 workers', () => {
  it('reports per path the step time, kernels, conv share, the speedups, the shard step and its bound, and where the parallel step spent its time', async () => {
    const bench = await benchSearchStep({
      space: 'basic',
      channels: 6,
      batch: 2,
      size: 8,
      steps: 2,
      warmup: 0,
      modes: ['noise'],
      workers: 2,
      workerScript: script,
    });
    const { fused, reference, speedupVsReference } = bench.modes.noise!;
    for (const path of [fused!, reference!]) {
      expect(path.ms).toBeGreaterThan(0);
      expect(path.parallelMs).toBeGreaterThan(0);
      expect(path.workerSpeedup).toBeCloseTo(path.ms / path.parallelMs!, 10);
      expect(path.shardMs).toBeGreaterThan(0);
      expect(path.workersBound).toBeCloseTo(path.ms / path.shardMs!, 10);
      expect(path.convShare).toBeGreaterThan(0);
      expect(path.convShare).toBeLessThanOrEqual(1);
    }
    expect(speedupVsReference).toBeCloseTo(reference!.ms / fused!.ms, 10);
    // The fused kernels replace several composed kernels per quantizer.
    expect(fused!.kernels).toBeLessThan(reference!.kernels / 3);
    const profile = fused!.parallelProfile;
    expect(profile).toBeDefined();
    for (const key of ['sendMs', 'ownMs', 'waitMs', 'reduceMs', 'optimizerMs', 'workerAssignMs', 'workerComputeMs', 'workerPackMs', 'stepMs'] as const) {
      expect(profile![key], key).toBeGreaterThanOrEqual(0);
    }
    expect(profile!.ownMs).toBeGreaterThan(0);
    expect(profile!.workerComputeMs).toBeGreaterThan(0);
    // The parts are measured inside the step.
    expect(profile!.sendMs + profile!.ownMs + profile!.waitMs + profile!.reduceMs + profile!.optimizerMs).toBeLessThanOrEqual(profile!.stepMs);
  });
});

describe('benchTrainStep on 2 workers', () => {
  it("times a genotype's network on replicas whose weights are its trainable variables", async () => {
    const bench = await benchTrainStep({
      genotype: tinyBasicGenotype,
      batch: 2,
      size: 8,
      steps: 1,
      warmup: 0,
      workers: 2,
      workerScript: script,
      baseline: null,
    });
    for (const path of [bench.genotype.fused!, bench.genotype.reference!]) {
      expect(path.workerSpeedup).toBeCloseTo(path.ms / path.parallelMs!, 10);
      expect(path.workersBound).toBeCloseTo(path.ms / path.shardMs!, 10);
      expect(path.parallelProfile!.workerComputeMs).toBeGreaterThan(0);
    }
  });
});

describe('a search on 2 workers', () => {
  // The replicas' noise draws are numbered per forward and per conv; a path-sampled forward draws
  // only for its path's ops, so a resumed run must replay the same paths to continue the same noise.
  it.each(['all', 'none'] as const)(
    'resumes to the variables of the uninterrupted run (path sampling %s)',
    async (pathSampling) => {
      const straight = outDir();
      await runSearch(tiny(straight, { pathSampling }), { workerScript: script });
      const dir = outDir();
      const controller = new AbortController();
      const stopped = await runSearch(tiny(dir, { pathSampling, checkpointEvery: 1 }), {
        workerScript: script,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.status === 'step' && e.step === 4) controller.abort();
        },
      });
      expect(stopped).toMatchObject({ completed: false, step: 4 });
      const resumed = await runSearch({ ...tiny(dir, { pathSampling, checkpointEvery: 1 }), resume: true }, { workerScript: script });
      expect(resumed.completed).toBe(true);
      const [a, b] = [(await readCheckpoint(join(straight, 'checkpoint.qnc'))).tensors, (await readCheckpoint(join(dir, 'checkpoint.qnc'))).tensors];
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, t] of a) expect(b.get(k)!.data, k).toEqual(t.data);
    },
    120_000,
  );
});
