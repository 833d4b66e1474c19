import type { Genotype } from '@quantnas/search-spaces';
import type { SearchOptions } from './search.js';
import type { TrainOptions } from './train/index.js';

/** A tiny `basic` genotype at C = 6, x4, with 4- and 8-bit blocks (grouped ops need C divisible by 3; override scale and channels as needed). */
export const tinyBasicGenotype: Genotype = {
  schemaVersion: 1,
  space: 'basic',
  scale: 4,
  channels: 6,
  blocks: {
    head0: { op: 'simple_3x3_grouped_3', bits: 8 },
    head1: { op: 'simple_3x3', bits: 4 },
    skip: { op: 'simple_1x1', bits: 4 },
    body1: { op: 'conv_3x1_1x3', bits: 8 },
    body2: { op: 'simple_3x3', bits: 4 },
    upsample: { op: 'simple_3x3_grouped_3', bits: 8 },
    tail1: { op: 'simple_3x3_grouped_3', bits: 8 },
    tail2: { op: 'simple_1x1', bits: 4 },
  },
};

/** A training run of a few steps on tiny T91 patches: enough to exercise every part of the loop. */
export const tinyTrainOptions = (genotype: string, dataRoot: string, out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  genotype,
  cells: 1,
  out,
  dataRoot,
  trainSets: ['T91'],
  epochs: 2,
  stepsPerEpoch: 3,
  batchSize: 2,
  lrPatchSize: 12,
  validationPatches: 2,
  validationPatchSize: 12,
  checkpointEvery: 2,
  ...extra,
});

/** A search of a tiny `basic` supernet (no ESA, so 8×8 patches work) on T91: seconds, not minutes. */
export const tinySearchOptions = (out: string, dataRoot: string, extra: Partial<SearchOptions> = {}): SearchOptions => ({
  space: 'basic',
  out,
  dataRoot,
  channels: 6,
  cells: 1,
  epochs: 3,
  warmupEpochs: 1,
  stepsPerEpoch: 2,
  batchSize: 2,
  lrPatchSize: 8,
  validationPatches: 2,
  validationPatchSize: 8,
  checkpointEvery: 1000,
  trainSets: ['T91'],
  penalty: 1e-3,
  seed: 5,
  ...extra,
});
