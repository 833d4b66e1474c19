import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import { resolveDataRoot } from '@quantnas/data';
import { createDiscreteNetwork, createSupernet, getSpace, type DiscreteNetworkOptions, type SupernetOptions } from '@quantnas/search-spaces';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { benchSearchStep } from '../bench.js';
import { readCheckpoint } from '../checkpoint.js';
import { parseEventLog, type SearchEvent } from '../events.js';
import { runSearch, type SearchOptions } from '../search.js';
import { runTraining, type TrainOptions, type TrainState } from '../train/index.js';
import { SearchWorkerError, shardSizes, startDataParallel, type DataParallel } from './coordinator.js';
import { discreteReplicaNet, shardGradients } from './replica.js';
import { tinyBasicGenotype, tinyTrainOptions } from '../test-helpers.js';

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

const tiny = (out: string, extra: Partial<SearchOptions> = {}): SearchOptions => ({
  space: 'basic',
  out,
  dataRoot,
  channels: 6,
  cells: 1,
  epochs: 3,
  warmupEpochs: 1,
  stepsPerEpoch: 2,
  batchSize: 4,
  lrPatchSize: 8,
  validationPatches: 2,
  validationPatchSize: 8,
  checkpointEvery: 1000,
  trainSets: ['T91'],
  penalty: 1e-3,
  seed: 5,
  workers: 2,
  ...extra,
});

beforeAll(async () => {
  await initBackend('wasm');
});

function randomBatch(rows: number, size: number, scale: number, seed: number): PatchBatch {
  const lr = tf.randomUniform([rows, size, size, 3], 0, 1, 'float32', seed);
  const hr = tf.randomUniform([rows, size * scale, size * scale, 3], 0, 1, 'float32', seed + 1);
  const batch = { lr: lr.dataSync() as Float32Array, hr: hr.dataSync() as Float32Array, lrShape: [rows, size, size, 3], hrShape: [rows, size * scale, size * scale, 3] };
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
      parallel = await startDataParallel({ replicas: 2, net, backend: 'wasm', network: { kind: 'supernet', spec, options }, replayForwards: 0, lrPatchSize: 8, script });
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
  it('reports the speedup and where the parallel step spent its time', async () => {
    const bench = await benchSearchStep({ space: 'basic', channels: 6, batch: 2, size: 8, steps: 2, warmup: 0, modes: ['noise'], workers: 2, workerScript: script });
    expect(bench.ms.noise).toBeGreaterThan(0);
    expect(bench.parallelMs?.noise).toBeGreaterThan(0);
    expect(bench.workerSpeedup?.noise).toBeCloseTo(bench.ms.noise! / bench.parallelMs!.noise!, 10);
    const profile = bench.parallelProfile?.noise;
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

describe('a search on 2 workers', () => {
  let straight: string;
  const events: SearchEvent[] = [];

  beforeAll(async () => {
    straight = outDir();
    const result = await runSearch(tiny(straight), { onEvent: (e) => events.push(e), workerScript: script });
    expect(result.completed).toBe(true);
  });

  it('completes and writes its outputs', () => {
    for (const f of ['genotype.json', 'genotype-best.json', 'genotype.svg', 'search.jsonl', 'summary.json', 'checkpoint.qnc']) expect(existsSync(join(straight, f)), f).toBe(true);
    const steps = events.filter((e) => e.status === 'step');
    expect(steps).toHaveLength(6);
    for (const e of steps) expect(Number.isFinite(e.wLoss)).toBe(true);
    expect(steps.filter((e) => e.alphaLoss !== undefined)).toHaveLength(4);
  });

  it('resumes with the same worker count to the same result, bit for bit', async () => {
    const dir = outDir();
    const controller = new AbortController();
    const stopped = await runSearch(tiny(dir, { checkpointEvery: 1 }), {
      signal: controller.signal,
      workerScript: script,
      onEvent: (e) => {
        if (e.status === 'step' && e.step === 3) controller.abort();
      },
    });
    expect(stopped).toMatchObject({ completed: false, step: 3 });
    const resumed = await runSearch({ out: dir, space: 'basic', dataRoot, resume: true }, { workerScript: script });
    expect(resumed.completed).toBe(true);
    const [a, b] = [readCheckpoint(join(straight, 'checkpoint.qnc')).tensors, readCheckpoint(join(dir, 'checkpoint.qnc')).tensors];
    for (const [k, t] of a) expect(b.get(k)!.data, k).toEqual(t.data);
    const wLoss = (list: SearchEvent[]) => list.flatMap((e) => (e.status === 'step' ? [e.wLoss] : []));
    const { readFileSync } = await import('node:fs');
    expect(wLoss(parseEventLog<SearchEvent>(readFileSync(join(dir, 'search.jsonl'), 'utf8')))).toEqual(wLoss(events));
  });

  it('surfaces a failing worker as an error and stops the others', async () => {
    // The real replica, plus a listener that throws on the first step.
    const failing = join(work, 'failing-worker.mjs');
    writeFileSync(
      failing,
      `import { parentPort } from 'node:worker_threads';\nimport ${JSON.stringify(script)};\n` +
        `parentPort.on('message', (m) => { if (m.type === 'phase') throw new Error('replica exploded'); });\n`,
    );
    const dir = outDir();
    const run = runSearch(tiny(dir, { workers: 3, batchSize: 3 }), { workerScript: failing });
    await expect(run).rejects.toThrow(SearchWorkerError);
    await expect(run).rejects.toThrow(/worker \d of 2 failed: .*replica exploded/s);
    // A checkpoint-free failure leaves an unfinished run that the next call can resume or refuse.
    expect(existsSync(join(dir, 'summary.json'))).toBe(false);
  });

  it('refuses more workers than patches per batch', async () => {
    await expect(runSearch(tiny(outDir(), { workers: 5 }), { workerScript: script })).rejects.toThrow(/workers \(5\) must not exceed batchSize \(4\)/);
  });
});

const genotype = tinyBasicGenotype;

describe('data-parallel QAT training', () => {
  it('sums the shard gradients of a genotype network to the full batch\'s', async () => {
    // ADQ off: no batch statistics, so the shards' gradients add up exactly.
    const options: DiscreteNetworkOptions = { mode: 'qat', adq: false, seed: 4, cells: 1 };
    const spec = getSpace('basic');
    const batch = randomBatch(4, 8, spec.scale, 21);
    const single = discreteReplicaNet(createDiscreteNetwork(spec, genotype, options));
    const net = discreteReplicaNet(createDiscreteNetwork(spec, genotype, options));
    let parallel: DataParallel | undefined;
    try {
      // The LSQ steps are set by the first forward: take one on each, outside the tape.
      for (const m of [single, net]) tf.dispose(m.apply(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, { training: false }));
      parallel = await startDataParallel({ replicas: 2, net, backend: 'wasm', network: { kind: 'discrete', spec, genotype, options }, replayForwards: 0, lrPatchSize: 8, script });
      const full = await shardGradients(single, 'w', tf.tensor4d(batch.lr, batch.lrShape), tf.tensor4d(batch.hr, batch.hrShape), 1);
      const par = await parallel.gradients('w', batch);
      expect(Math.abs(par.l1 - full.l1)).toBeLessThan(1e-5 * full.l1);
      expect(par.grads.size).toBe(single.weightVariables().size);
      expectClose(await values(full.grads), await values(par.grads));
    } finally {
      await parallel?.close();
      single.dispose();
      net.dispose();
    }
  });

  const genotypePath = join(work, 'genotype.json');
  writeFileSync(genotypePath, JSON.stringify(genotype));
  const tinyTrain = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions =>
    tinyTrainOptions(genotypePath, dataRoot, out, { batchSize: 4, checkpointEvery: 1000, workers: 2, ...extra });
  const weights = (dir: string) => new Map([...readCheckpoint<TrainState>(join(dir, 'checkpoint.qnc')).tensors].filter(([k]) => k.startsWith('var/')));

  it('trains on 2 workers, close to one thread, and resumes to the same weights bit for bit', async () => {
    const [two, one, stopped] = [outDir(), outDir(), outDir()];
    const a = await runTraining(tinyTrain(two), { workerScript: script });
    const b = await runTraining(tinyTrain(one, { workers: 1 }), { workerScript: script });
    expect(a.completed && b.completed).toBe(true);
    if (!a.completed || !b.completed) return;
    expect(a.config.workers).toBe(2);
    // Same data, same start; only the float summation order differs.
    expect(Math.abs(a.lastValidationPsnr - b.lastValidationPsnr)).toBeLessThan(0.05);

    const controller = new AbortController();
    const first = await runTraining(tinyTrain(stopped, { checkpointEvery: 1 }), {
      signal: controller.signal,
      workerScript: script,
      onEvent: (e) => {
        if (e.status === 'step' && e.step === 4) controller.abort();
      },
    });
    expect(first).toMatchObject({ completed: false, step: 4 });
    const resumed = await runTraining({ out: stopped, dataRoot, resume: true, workers: 2 }, { workerScript: script });
    expect(resumed.completed).toBe(true);
    const [x, y] = [weights(two), weights(stopped)];
    expect(y.size).toBe(x.size);
    for (const [k, t] of x) expect(y.get(k)!.data, k).toEqual(t.data);
  });

  it('refuses more workers than patches per batch', async () => {
    await expect(runTraining(tinyTrain(outDir(), { workers: 5 }), { workerScript: script })).rejects.toThrow(/workers \(5\) must not exceed batchSize \(4\)/);
  });
});
