import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { resolveDataRoot } from '@quantnas/data';
import { baselineGenotype, getSpace } from '@quantnas/search-spaces';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { readCheckpoint } from '../checkpoint.js';
import { exportModel } from '../export/index.js';
import { parseEventLog, type TrainEvent } from '../events.js';
import { tinyTrainOptions } from '../test-helpers.js';
import { loadTrainedNetwork, runTraining, type TrainOptions, type TrainState } from './index.js';

// Exact resume from any point: a run killed anywhere (the directory as a SIGKILL leaves it: the
// last checkpoint, and log lines written after it) and resumed must end with the same bytes as
// the uninterrupted run. rfdn-bicubic at C = 12 has ADQ's batch norm, ESA and a frozen bicubic
// skip, and some of its LSQ weight steps cross zero within a few steps: a resume that
// re-initialised such a step (in this thread, or in a worker's replica) diverged from the next
// step on.

declare module 'vitest' {
  export interface ProvidedContext {
    searchWorker: string;
  }
}

const workerScript = inject('searchWorker');
const work = mkdtempSync(join(tmpdir(), 'quantnas-resume-'));
const dataRoot = resolveDataRoot();
const { genotype } = baselineGenotype(getSpace('rfdn-bicubic'), { bits: 4, channels: 12, cells: 1 });
Object.keys(genotype.blocks).forEach((k, i) => {
  if (i % 2 === 1) (genotype.blocks as Record<string, { bits: number }>)[k]!.bits = 8;
});
const genotypePath = join(work, 'genotype.json');
writeFileSync(genotypePath, JSON.stringify(genotype));
const options = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions =>
  tinyTrainOptions(genotypePath, dataRoot, out, {
    epochs: 3,
    stepsPerEpoch: 4,
    batchSize: 4,
    lrPatchSize: 16,
    validationPatchSize: 16,
    checkpointEvery: 2,
    ...extra,
  });

const modelBytes = async (dir: string): Promise<Buffer> => {
  const trained = await loadTrainedNetwork(dir);
  try {
    return Buffer.from(await exportModel(trained.network, { spec: trained.target.spec, genotype: trained.target.genotype }));
  } finally {
    trained.network.dispose();
  }
};
const losses = (dir: string) =>
  parseEventLog<TrainEvent>(readFileSync(join(dir, 'train.jsonl'), 'utf8')).flatMap((e) =>
    e.status === 'step' ? [[e.step, e.loss]] : e.status === 'epoch' ? [[e.epoch, e.validationPsnr]] : [],
  );
const checkpointBytes = (dir: string) => {
  const { tensors } = readCheckpoint<TrainState>(join(dir, 'checkpoint.qnc'));
  return new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')]));
};

beforeAll(async () => {
  await initBackend('wasm');
});

describe('training resumed after a kill at any step', () => {
  it.each([1, 2])(
    'ends bit-identical to the uninterrupted run from five kill points (mid-epoch, epoch ends, between checkpoints), %i worker(s)',
    async (workers) => {
      const full = join(work, `full-${workers}`);
      // Kill points: the directory is copied as it stands when the step's event is written, i.e.
      // what a SIGKILL right then leaves behind (steps 3, 5 and 7 are after the last checkpoint).
      const killAt = [3, 4, 5, 7, 10];
      const snapshots = new Map<number, string>();
      const result = await runTraining(options(full, { workers }), {
        workerScript,
        onEvent: (e) => {
          if (e.status === 'step' && killAt.includes(e.step)) {
            const copy = join(work, `killed-${workers}-${e.step}`);
            cpSync(full, copy, { recursive: true });
            snapshots.set(e.step, copy);
          }
        },
      });
      expect(result.completed).toBe(true);
      // The case this test is about: a trained step that crossed zero.
      const steps = [...readCheckpoint<TrainState>(join(full, 'checkpoint.qnc')).tensors].filter(([k]) => /quantizer\.wstep/.test(k));
      expect(steps.some(([, t]) => t.data.some((v) => v <= 0))).toBe(true);

      const expected = { model: await modelBytes(full), checkpoint: checkpointBytes(full), losses: losses(full) };
      for (const step of killAt) {
        const dir = snapshots.get(step)!;
        const resumed = await runTraining({ ...options(dir, { workers }), resume: true }, { workerScript });
        expect(resumed.completed, `killed at ${step}`).toBe(true);
        expect(losses(dir), `losses after a kill at ${step}`).toEqual(expected.losses);
        expect(checkpointBytes(dir), `checkpoint after a kill at ${step}`).toEqual(expected.checkpoint);
        expect((await modelBytes(dir)).equals(expected.model), `exported model after a kill at ${step}`).toBe(true);
      }
    },
    300_000,
  );
});
