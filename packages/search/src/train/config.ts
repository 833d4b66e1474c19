import { cosineLr } from '../schedule.js';

export type TrainPresetName = 'smoke' | 'quick' | 'cpu' | 'paper';
export const TRAIN_PRESET_NAMES: readonly TrainPresetName[] = ['smoke', 'quick', 'cpu', 'paper'];

/** Every setting of a QAT training run, resolved (preset + overrides). Saved in checkpoints and summary.json. */
export interface TrainConfig {
  readonly preset: TrainPresetName;
  readonly epochs: number;
  /** A number, or `pass`: one pass over the training split's patches. */
  readonly stepsPerEpoch: number | 'pass';
  readonly batchSize: number;
  readonly lrPatchSize: number;
  readonly patchesPerImage: number;
  readonly augment: { readonly flip: boolean; readonly rot90: boolean };
  /** Adam's rate during the constant part of the schedule. */
  readonly lr: number;
  readonly lrMin: number;
  /**
   * The last `decayFraction` of the steps anneal from `lr` to `lrMin` by a cosine; the steps before
   * run at `lr`. 1 is plain cosine annealing over the whole run.
   */
  readonly decayFraction: number;
  readonly weightDecay: number;
  /** Global gradient norm clip. */
  readonly gradClip: number;
  /** Training sets under the data root; their images are split into training and validation parts. */
  readonly trainSets: readonly string[];
  /** Fraction of the images held out for validation. */
  readonly validationFraction: number;
  readonly validationPatches: number;
  readonly validationPatchSize: number;
  /** Checkpoint every this many steps (and at every epoch end). */
  readonly checkpointEvery: number;
  readonly seed: number;
  /**
   * Replicas each batch is split over, n − 1 of them in worker threads (data parallelism; the
   * machine's setting, not the preset's). The same count gives the same result.
   */
  readonly workers: number;
  /** Quantizer and optimiser kernels: `fused` (one kernel each), or `reference` (composed tfjs ops). */
  readonly kernels: 'fused' | 'reference';
}

export type TrainPreset = Omit<TrainConfig, 'preset' | 'seed' | 'workers' | 'kernels'>;
export type TrainConfigOverrides = { -readonly [K in keyof TrainConfig]?: TrainConfig[K] | undefined };

/** A problem with a training run's options, inputs or output directory; the message is one line. */
export class TrainError extends Error {
  override readonly name = 'TrainError';
}

const common = {
  patchesPerImage: 1,
  augment: { flip: true, rot90: true },
  lrMin: 0,
  weightDecay: 0,
  gradClip: 5,
  trainSets: ['T91', 'BSD200'],
  validationFraction: 0.1,
} as const satisfies Partial<TrainPreset>;

/**
 * The presets, as data. `smoke` checks a setup in seconds. `quick` and `cpu` are sized for the 2-core wasm machine with 2 workers
 * (measured with rfdn-bicubic genotypes at C = 12, 1 cell, 23–31K MACs per LR pixel: 0.17–0.19 s
 * per step at batch 16 of 32×32 on 2 workers, 0.33 s on one thread, so `quick` takes about 9
 * minutes; larger networks take longer). For such short
 * budgets the rate stays at 1e-3 for most of the run and decays over the last quarter (a decay
 * spread over a short run loses quality). `paper` is the reference: Adam 1e-4, cosine annealing
 * over the whole run, batch 32, one pass over the patches per epoch.
 */
export const TRAIN_PRESETS: Readonly<Record<TrainPresetName, TrainPreset>> = {
  // A few steps on T91 alone: checks that a setup (data, workers, a sweep's queue) runs end to end
  // in seconds. Its model is not meant to be good.
  smoke: {
    ...common,
    trainSets: ['T91'],
    epochs: 1,
    stepsPerEpoch: 4,
    batchSize: 2,
    lrPatchSize: 16,
    lr: 1e-3,
    decayFraction: 0.25,
    validationPatches: 2,
    validationPatchSize: 16,
    checkpointEvery: 2,
  },
  quick: {
    ...common,
    epochs: 12,
    stepsPerEpoch: 250,
    batchSize: 16,
    lrPatchSize: 32,
    lr: 1e-3,
    decayFraction: 0.25,
    validationPatches: 16,
    validationPatchSize: 32,
    checkpointEvery: 25,
  },
  cpu: {
    ...common,
    // 9,000 steps. Measured on 2 workers: 0.36 s per step for the 2-cell baseline (18K MACs per LR
    // pixel), 0.57 s for a 2-cell genotype of wide ops (64K), so 55 to 85 minutes.
    epochs: 18,
    stepsPerEpoch: 500,
    batchSize: 16,
    lrPatchSize: 48,
    lr: 1e-3,
    decayFraction: 0.25,
    validationPatches: 32,
    validationPatchSize: 48,
    checkpointEvery: 50,
  },
  paper: {
    ...common,
    epochs: 50,
    stepsPerEpoch: 'pass',
    patchesPerImage: 32,
    batchSize: 32,
    lrPatchSize: 48,
    lr: 1e-4,
    decayFraction: 1,
    validationPatches: 64,
    validationPatchSize: 48,
    checkpointEvery: 200,
  },
};

/** The preset's settings, then every override that is not undefined; validated. */
export function resolveTrainConfig(options: TrainConfigOverrides = {}): TrainConfig {
  const presetName = options.preset ?? 'quick';
  if (!TRAIN_PRESET_NAMES.includes(presetName)) throw new TrainError(`unknown preset '${String(presetName)}' (expected ${TRAIN_PRESET_NAMES.join(', ')})`);
  const overrides = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const config = { ...TRAIN_PRESETS[presetName], seed: 1, workers: 1, kernels: 'fused', preset: presetName, ...overrides } as TrainConfig;
  validateTrainConfig(config);
  return config;
}

function validateTrainConfig(c: TrainConfig): void {
  const fail = (message: string): never => {
    throw new TrainError(message);
  };
  const int = (name: keyof TrainConfig, min: number) => {
    const v = c[name] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  int('epochs', 1);
  if (c.stepsPerEpoch !== 'pass') int('stepsPerEpoch', 1);
  for (const n of ['batchSize', 'lrPatchSize', 'patchesPerImage', 'validationPatches', 'validationPatchSize', 'checkpointEvery', 'workers'] as const) int(n, 1);
  if (c.workers > c.batchSize) fail(`workers (${c.workers}) must not exceed batchSize (${c.batchSize}): each worker takes a share of the batch`);
  if (c.kernels !== 'fused' && c.kernels !== 'reference') fail(`kernels must be fused or reference, got '${String(c.kernels)}'`);
  if (!Number.isSafeInteger(c.seed)) fail(`seed must be an integer, got ${JSON.stringify(c.seed)}`);
  for (const n of ['lr', 'lrMin', 'weightDecay'] as const) {
    if (typeof c[n] !== 'number' || !Number.isFinite(c[n]) || c[n] < 0) fail(`${n} must be a finite number ≥ 0, got ${JSON.stringify(c[n])}`);
  }
  if (!(c.decayFraction >= 0 && c.decayFraction <= 1)) fail(`decayFraction must be in [0, 1], got ${c.decayFraction}`);
  if (!(c.gradClip > 0)) fail(`gradClip must be positive, got ${c.gradClip}`);
  if (!(c.validationFraction > 0 && c.validationFraction < 1)) fail(`validationFraction must be in (0, 1), got ${c.validationFraction}`);
  if (!Array.isArray(c.trainSets) || c.trainSets.length === 0) fail('trainSets must name at least one training set');
}

/**
 * The rate of step `step` (0-based) of `total`: `lr` until the last `decayFraction` of the run,
 * then cosine annealing to `lrMin` over those steps. Per step, so a resumed run gets the same rates.
 */
export function trainLr(step: number, total: number, config: Pick<TrainConfig, 'lr' | 'lrMin' | 'decayFraction'>): number {
  const decaySteps = Math.round(total * config.decayFraction);
  const start = total - decaySteps;
  if (step < start || decaySteps === 0) return config.lr;
  return cosineLr(step - start, decaySteps, config.lr, config.lrMin);
}
