import { PRESET_NAMES, type PresetName, type SearchConfig } from './config.js';

export { PRESET_NAMES, type PresetName };

/** What a preset fixes: everything but the space, the run's identity (seed), the knobs the user turns (λ, mode, ADQ, bits) and the machine's (workers). */
export type Preset = Omit<
  SearchConfig,
  'space' | 'seed' | 'penalty' | 'mode' | 'adq' | 'bits' | 'preset' | 'workers' | 'kernels' | 'derive' | 'latencyPenalty' | 'latencyTable'
>;

const common = {
  scale: 4,
  selector: 'softmax',
  temperature: 1,
  noise: 'uniform',
  noiseGradient: 'through',
  penaltyBits: 'linear',
  entropy: 'entropy',
  entropyWeight: 1e-3,
  wLr: 1e-3,
  wLrMin: 0,
  wWeightDecay: 3e-8,
  wGradClip: 5,
  alphaLr: 3e-4,
  alphaBeta1: 0.5,
  alphaBeta2: 0.999,
  alphaWeightDecay: 0,
  trainSets: ['T91', 'BSD200'],
  splits: [0.45, 0.45, 0.1],
  augment: { flip: true, rot90: false },
  patchesPerImage: 1,
  pathSampling: 'none',
} as const satisfies Partial<Preset>;

/**
 * The presets, as data. `smoke` checks a setup in seconds. `quick` and `cpu` scale the supernet down (width, cells, patches) so
 * that the whole `quantnas run` takes about 12 minutes and under 2 hours on a 2-core machine on wasm, while keeping every block
 * type of the space; `paper` is the reference setting (docs/method.md §7), meant for a fast backend.
 * rfdn needs a width divisible by 12 (C/3 repeats of the input; C/2 split outputs, which its grouped candidates split in 2).
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  // A few steps at the quick width on T91 alone: checks that a setup (data, workers, a
  // sweep's queue) runs end to end in seconds. Its genotype means nothing.
  smoke: {
    ...common,
    trainSets: ['T91'],
    channels: 12,
    cells: 1,
    epochs: 2,
    warmupEpochs: 1,
    stepsPerEpoch: 3,
    batchSize: 2,
    lrPatchSize: 16,
    validationPatches: 2,
    validationPatchSize: 16,
    checkpointEvery: 2,
  },
  quick: {
    ...common,
    channels: 12,
    cells: 1,
    epochs: 6,
    warmupEpochs: 2,
    // 600 steps (400 α steps): twice the steps of the composed-kernel search in the same time.
    stepsPerEpoch: 100,
    // Hundreds of α steps instead of the reference's thousands: a larger rate lets α move as far,
    // and a larger entropy weight decides the blocks whose L1 gradient is mostly noise (measured:
    // at 1e-3 the upsampling and tail α stay uniform, top probability 0.09; at 0.1 they reach 0.28).
    alphaLr: 0.05,
    entropyWeight: 1,
    // w steps train one drawn path each (README, Results: the diagnosis): α's ranking of the
    // stand-alone genotypes goes from τ = −0.07 to 0.29, and the searched models from under the
    // uniform-bit front onto it, in 0.6× the search time. Not measured on the other presets yet.
    pathSampling: 'all',
    batchSize: 8,
    lrPatchSize: 16,
    validationPatches: 16,
    validationPatchSize: 24,
    checkpointEvery: 30,
  },
  cpu: {
    ...common,
    channels: 12,
    cells: 2,
    epochs: 8,
    warmupEpochs: 3,
    // 2400 steps, w steps on one drawn path as in quick (its measurement: README, Results): 17
    // minutes on 2 workers with another job sharing the cores, where 1920 steps of the mixture took 23.
    stepsPerEpoch: 300,
    alphaLr: 0.02,
    entropyWeight: 0.5,
    pathSampling: 'all',
    batchSize: 8,
    lrPatchSize: 20,
    validationPatches: 32,
    validationPatchSize: 32,
    checkpointEvery: 40,
  },
  paper: {
    ...common,
    channels: 48,
    cells: 4,
    epochs: 20,
    warmupEpochs: 9,
    // One pass over the w split per epoch, as the reference iterates over its patch loader.
    stepsPerEpoch: 'pass',
    patchesPerImage: 32,
    batchSize: 32,
    lrPatchSize: 45,
    validationPatches: 64,
    validationPatchSize: 48,
    checkpointEvery: 200,
  },
};
