import type { Genotype, SearchSpaceSpec } from '@quantnas/search-spaces';
import type { TrainEvent } from '../events.js';
import type { JobHooks, JobOptions, JobResult, JobState } from '../job.js';
import type { TrainConfig, TrainConfigOverrides } from './config.js';
import type { CurvePoint } from './curve-svg.js';
import type { TargetOptions } from './genotype-source.js';

export interface TrainOptions extends Omit<TrainConfigOverrides, 'preset'>, Partial<TargetOptions>, JobOptions {
  readonly preset?: TrainConfig['preset'];
}

export type TrainHooks = JobHooks<TrainEvent>;

export interface TrainFiles {
  readonly events: string;
  readonly summary: string;
  readonly checkpoint: string;
  readonly best: string;
  readonly genotype: string;
  readonly space: string;
  /** Validation PSNR and training loss per epoch, rewritten at each epoch's end. */
  readonly curve: string;
}

/** The network's cost, from its `costReport()` at 32×32 LR. */
export interface TrainCost {
  readonly params: number;
  /** MACs per LR pixel. */
  readonly macsPerPixel: number;
  readonly bitops32x32: number;
  readonly bitopsPerOutputMegapixel: number;
  readonly macsPerOutputMegapixel: number;
  readonly costInput: { readonly height: number; readonly width: number };
}

export interface TrainSummary {
  readonly schemaVersion: 1;
  readonly space: string;
  readonly genotype: Genotype;
  readonly cells: number;
  readonly adq: boolean;
  readonly config: TrainConfig;
  readonly backend: string;
  readonly steps: number;
  /** Wall time of the training, summed over resumed parts. */
  readonly seconds: number;
  readonly bestEpoch: number;
  readonly bestValidationPsnr: number;
  readonly lastValidationPsnr: number;
  readonly cost: TrainCost;
  readonly files: TrainFiles;
}

export type TrainResult = JobResult<TrainSummary, TrainFiles>;

/** The network a checkpoint belongs to; stored in every checkpoint so that one file is enough to rebuild it. */
export interface StoredTarget {
  readonly spec: SearchSpaceSpec;
  readonly genotype: Genotype;
  readonly cells: number;
  readonly adq: boolean;
  readonly seed: number;
}

export interface EpochRecord {
  readonly epoch: number;
  readonly step: number;
  readonly validationPsnr: number;
}

/** What a checkpoint's header carries besides the tensors. */
export interface TrainState extends JobState {
  readonly kind: 'quantnas-train';
  config: TrainConfig;
  target: StoredTarget;
  best: EpochRecord | null;
  last: EpochRecord | null;
  /** Every finished epoch, for the curve; absent in checkpoints written before the curve existed. */
  history?: CurvePoint[];
  epochSums: { loss: number; count: number };
  adamSteps: number;
}
