import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { resolveDataRoot } from '@quantnas/data';
import type { Genotype } from '@quantnas/search-spaces';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../checkpoint.js';
import { tinyBasicGenotype, tinyTrainOptions } from '../test-helpers.js';
import { parseEventLog, type TrainEvent } from '../events.js';
import { checkTrainWidth, loadTrainedNetwork, resolveTrainTarget, runTraining, trainLr, type TrainOptions, type TrainState } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-train-'));
const dataRoot = resolveDataRoot();

const genotype: Genotype = tinyBasicGenotype;
const genotypePath = join(work, 'genotype.json');
writeFileSync(genotypePath, JSON.stringify(genotype));

const tiny = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => tinyTrainOptions(genotypePath, dataRoot, out, extra);

const events = (dir: string) => parseEventLog<TrainEvent>(readFileSync(join(dir, 'train.jsonl'), 'utf8'));
const weightsOf = (path: string) => {
  const { tensors } = readCheckpoint<TrainState>(path);
  return new Map([...tensors].filter(([k]) => k.startsWith('var/')).map(([k, t]) => [k, Array.from(t.data)]));
};

beforeAll(async () => {
  await initBackend('wasm');
});

describe('trainLr', () => {
  it('holds the rate, then anneals it by a cosine over the last fraction', () => {
    const c = { lr: 1e-3, lrMin: 0, decayFraction: 0.25 };
    expect(trainLr(0, 100, c)).toBe(1e-3);
    expect(trainLr(74, 100, c)).toBe(1e-3);
    expect(trainLr(75, 100, c)).toBeCloseTo(1e-3, 12);
    expect(trainLr(87.5, 100, c)).toBeCloseTo(5e-4, 12);
    expect(trainLr(99, 100, c)).toBeLessThan(1e-5);
    expect(trainLr(50, 100, { ...c, decayFraction: 1 })).toBeCloseTo(5e-4, 12);
  });
});

describe('runTraining', () => {
  const a = join(work, 'a');

  it('trains a genotype with QAT and writes the checkpoints, the log and the summary', async () => {
    const seen: TrainEvent[] = [];
    const result = await runTraining(tiny(a), { onEvent: (e) => seen.push(e) });
    expect(result.completed).toBe(true);
    if (!result.completed) return;
    for (const f of ['train.jsonl', 'summary.json', 'checkpoint.qnc', 'best.qnc', 'genotype.json', 'space.json', 'curve.svg'])
      expect(existsSync(join(a, f)), f).toBe(true);
    // Two epochs: two points in each of the curve's panels.
    expect(readFileSync(join(a, 'curve.svg'), 'utf8').match(/<circle [^>]*r="3"/g)).toHaveLength(4);
    expect(result.steps).toBe(6);
    expect(result.cells).toBe(1);
    expect(result.adq).toBe(true);
    expect(result.bestValidationPsnr).toBeGreaterThan(5);
    expect(result.cost.params).toBeGreaterThan(0);
    expect(result.cost.bitops32x32).toBeGreaterThan(result.cost.macsPerPixel * 1024);
    expect(result.cost.bitopsPerOutputMegapixel).toBeCloseTo((result.cost.bitops32x32 / (1024 * 16)) * 1e6, 0);
    expect(JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8'))).toMatchObject({ bestEpoch: result.bestEpoch, steps: 6 });
    const log = events(a);
    expect(log).toEqual(seen);
    expect(log.map((e) => e.status).filter((s) => s !== 'checkpoint')).toEqual([
      'start',
      'step',
      'step',
      'step',
      'epoch',
      'step',
      'step',
      'step',
      'epoch',
      'done',
    ]);
    const epochs = log.filter((e) => e.status === 'epoch');
    expect(epochs[0]).toMatchObject({ epoch: 0, best: true });
    // The best checkpoint holds the weights of the best-validation epoch.
    const best = await loadTrainedNetwork(a);
    expect(best.epoch).toBe(result.bestEpoch);
    expect(best.validationPsnr).toBe(result.bestValidationPsnr);
    best.network.dispose();
  });

  it('resumes a stopped run to the same weights and losses', async () => {
    const b = join(work, 'b');
    const controller = new AbortController();
    const stopped = await runTraining(tiny(b), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.status === 'step' && e.step === 4) controller.abort();
      },
    });
    expect(stopped).toMatchObject({ completed: false, step: 4, totalSteps: 6 });
    const resumed = await runTraining({ genotype: genotypePath, cells: 1, out: b, dataRoot, resume: true });
    expect(resumed.completed).toBe(true);
    expect(weightsOf(join(b, 'checkpoint.qnc'))).toEqual(weightsOf(join(a, 'checkpoint.qnc')));
    expect(weightsOf(join(b, 'best.qnc'))).toEqual(weightsOf(join(a, 'best.qnc')));
    const losses = (dir: string) => events(dir).flatMap((e) => (e.status === 'step' ? [[e.step, e.loss, e.lr]] : []));
    expect(losses(b)).toEqual(losses(a));
    // The epoch before the stop comes back from the checkpoint.
    expect(readFileSync(join(b, 'curve.svg'), 'utf8')).toBe(readFileSync(join(a, 'curve.svg'), 'utf8'));
  });

  it('refuses to overwrite or mix runs, in one line', async () => {
    await expect(runTraining(tiny(a))).rejects.toThrow(/already holds a finished training run/);
    const read = await runTraining({ ...tiny(a), resume: true });
    expect(read.completed).toBe(true);

    const other: Genotype = { ...genotype, blocks: { ...genotype.blocks, tail2: { op: 'simple_3x3', bits: 8 } } };
    const otherPath = join(work, 'other.json');
    writeFileSync(otherPath, JSON.stringify(other));
    await expect(runTraining({ ...tiny(a), genotype: otherPath, resume: true })).rejects.toThrow(/was trained from another genotype/);

    const c = join(work, 'c');
    const controller = new AbortController();
    controller.abort();
    await runTraining(tiny(c), { signal: controller.signal });
    await expect(runTraining(tiny(c))).rejects.toThrow(/holds an unfinished training run; resume it/);
    await expect(runTraining({ ...tiny(c), genotype: otherPath, resume: true })).rejects.toThrow(/was trained from another genotype/);
    await expect(runTraining({ ...tiny(c), seed: 7, resume: true })).rejects.toThrow(/different settings \(seed\)/);
  });

  it('trains on the kernels asked for: the reference kernels follow the fused run to float tolerance', async () => {
    const fused = await runTraining(tiny(join(work, 'k-fused'), { epochs: 1 }));
    const reference = await runTraining(tiny(join(work, 'k-reference'), { epochs: 1, kernels: 'reference' }));
    if (!fused.completed || !reference.completed) throw new Error('unfinished');
    expect(fused.config.kernels).toBe('fused');
    expect(reference.config.kernels).toBe('reference');
    const losses = (dir: string) => events(dir).flatMap((e) => (e.status === 'step' ? [e.loss] : []));
    const [f, r] = [losses(join(work, 'k-fused')), losses(join(work, 'k-reference'))];
    expect(r).toHaveLength(f.length);
    r.forEach((loss, i) => expect(Math.abs(loss - f[i]!) / f[i]!).toBeLessThan(1e-4));

    const stopped = join(work, 'k-stopped');
    const controller = new AbortController();
    controller.abort();
    await runTraining(tiny(stopped, { kernels: 'reference' }), { signal: controller.signal });
    await expect(runTraining({ ...tiny(stopped), kernels: 'fused', resume: true })).rejects.toThrow(/different settings \(kernels\)/);
  });

  it('trains a genotype at another channel width, its ops and bits kept, and resumes it only at that width', async () => {
    const wider = await resolveTrainTarget({ genotype: genotypePath, channels: 9 });
    expect(wider.genotype).toEqual({ ...genotype, channels: 9 });
    // The grouped ops of the genotype need a width divisible by their 3 groups.
    await expect(resolveTrainTarget({ genotype: genotypePath, channels: 8 })).rejects.toThrow(/not divisible by 3 groups/);
    await expect(resolveTrainTarget({ genotype: genotypePath, channels: 0 })).rejects.toThrow('channels must be a positive integer, got 0');

    await expect(checkTrainWidth('rfdn-bicubic', 24)).resolves.toBeUndefined();
    await expect(checkTrainWidth('rfdn-bicubic', 18)).rejects.toThrow(/cannot train a genotype of 'rfdn-bicubic' at 18 channels: .*not divisible by 2 groups/);

    const w = join(work, 'wide');
    const controller = new AbortController();
    const stopped = await runTraining(tiny(w, { channels: 9 }), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.status === 'step' && e.step === 2) controller.abort();
      },
    });
    expect(stopped.completed).toBe(false);
    await expect(runTraining({ ...tiny(w), resume: true })).rejects.toThrow(/was trained from another genotype/);
    await expect(runTraining({ out: w, dataRoot, channels: 12, resume: true })).rejects.toThrow(/was trained at 9 channels, not 12/);
    const result = await runTraining({ out: w, dataRoot, resume: true });
    if (!result.completed) throw new Error('unfinished');
    expect(result.genotype).toEqual({ ...genotype, channels: 9 });
    const narrow = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8')) as { cost: { params: number } };
    expect(result.cost.params).toBeGreaterThan(1.5 * narrow.cost.params);
  });

  it('checks the genotype against its space, and takes the cell count from the search beside it', async () => {
    await expect(resolveTrainTarget({ genotype: genotypePath, space: 'rfdn' })).rejects.toThrow("the genotype is for space 'basic', not 'rfdn'");
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...genotype, blocks: { ...genotype.blocks, head0: { op: 'simple_1x1', bits: 8 } } }));
    await expect(resolveTrainTarget({ genotype: bad })).rejects.toThrow(/head0\.op: 'simple_1x1' is not a candidate/);

    const searchDir = join(work, 'search');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(searchDir);
    writeFileSync(join(searchDir, 'genotype.json'), JSON.stringify(genotype));
    writeFileSync(join(searchDir, 'summary.json'), JSON.stringify({ space: 'basic', config: { cells: 2, adq: false } }));
    expect(await resolveTrainTarget({ genotype: join(searchDir, 'genotype.json') })).toMatchObject({ cells: 2, adq: false });
    expect((await resolveTrainTarget({ genotype: genotypePath })).cells).toBe(3);
  });
});
