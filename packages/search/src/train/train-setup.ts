import type { Genotype, SearchSpaceSpec } from '@quantnas/search-spaces';
import type { LoadedCheckpoint } from '../checkpoint.js';
import { resumeConflict } from '../resume-settings.js';
import { resolveTrainConfig, TrainError, type TrainConfig, type TrainConfigOverrides } from './config.js';
import { resolveTrainTarget, type TrainTarget } from './genotype-source.js';
import type { StoredTarget, TrainOptions, TrainState } from './train-types.js';

/** What a training run is configured with before it builds anything. */
export interface TrainSetup {
  readonly config: TrainConfig;
  readonly target: StoredTarget;
  /** Messages for the event log (a changed worker count). */
  readonly notes: string[];
}

/**
 * The configuration and the network of a training run in `dir`: the checkpoint's on resume (the
 * options may only repeat them; the worker count may change, with a note), else the preset's with
 * the options over it and the genotype the options name.
 */
export async function resolveTrainSetup(options: TrainOptions, dir: string, loaded: LoadedCheckpoint<TrainState> | undefined): Promise<TrainSetup> {
  const overrides = pickOverrides(options);
  const notes: string[] = [];
  if (loaded) {
    // Checkpoints from before `workers` existed ran on one thread.
    let config: TrainConfig = { ...loaded.state.config, workers: loaded.state.config.workers ?? 1 };
    const requested = resolveTrainConfig({ ...config, ...overrides });
    // The worker count belongs to the machine: it may change on resume, at the cost of bit-identity.
    if (requested.workers !== config.workers) {
      notes.push(`resuming with ${requested.workers} worker(s) instead of ${config.workers}: the result will differ from an uninterrupted run`);
      config = { ...config, workers: requested.workers };
    }
    const conflict = resumeConflict(dir, overrides, requested, config);
    if (conflict) throw new TrainError(conflict);
    if (options.genotype !== undefined) checkSameTarget(dir, await resolveRequested(options), loaded.state.target);
    else if (options.channels !== undefined && options.channels !== loaded.state.target.genotype.channels)
      throw new TrainError(`${dir} was trained at ${loaded.state.target.genotype.channels} channels, not ${options.channels}`);
    return { config, target: loaded.state.target, notes };
  }
  if (options.genotype === undefined) throw new TrainError('a genotype is needed to start a training run');
  const config = resolveTrainConfig(overrides);
  const t = await resolveRequested(options);
  return { config, target: { spec: t.spec, genotype: t.genotype, cells: t.cells, adq: t.adq, seed: config.seed }, notes };
}

export async function resolveRequested(options: TrainOptions): Promise<TrainTarget> {
  return resolveTrainTarget({
    genotype: options.genotype!,
    ...(options.space !== undefined ? { space: options.space } : {}),
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
    ...(options.adq !== undefined ? { adq: options.adq } : {}),
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
  });
}

/** A resumed run must train the genotype it started with. */
export function checkSameTarget(
  dir: string,
  requested: TrainTarget,
  stored: Pick<StoredTarget, 'genotype' | 'cells' | 'adq'> & { readonly spec?: SearchSpaceSpec; readonly space?: string },
): void {
  const key = (g: Genotype) => JSON.stringify([g.space, g.scale, g.channels, Object.entries(g.blocks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  const storedSpace = stored.spec?.id ?? stored.space;
  if (requested.spec.id !== storedSpace || key(requested.genotype) !== key(stored.genotype)) {
    throw new TrainError(
      `${dir} was trained from another genotype (space '${stored.genotype.space}', ${Object.keys(stored.genotype.blocks).length} blocks); use the genotype it started with, or another output directory`,
    );
  }
  if (requested.cells !== stored.cells) throw new TrainError(`${dir} was trained with ${stored.cells} cell(s), not ${requested.cells}`);
  if (requested.adq !== stored.adq) throw new TrainError(`${dir} was trained with ADQ ${stored.adq ? 'on' : 'off'}`);
}

const CONFIG_KEYS: readonly (keyof TrainConfig)[] = [
  'preset',
  'epochs',
  'stepsPerEpoch',
  'batchSize',
  'lrPatchSize',
  'patchesPerImage',
  'augment',
  'lr',
  'lrMin',
  'decayFraction',
  'weightDecay',
  'gradClip',
  'trainSets',
  'validationFraction',
  'validationPatches',
  'validationPatchSize',
  'checkpointEvery',
  'seed',
  'workers',
  'kernels',
];

function pickOverrides(options: TrainOptions): TrainConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) if (options[key] !== undefined) out[key] = options[key];
  return out as TrainConfigOverrides;
}
