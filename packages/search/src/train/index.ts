export {
  resolveTrainConfig,
  TRAIN_PRESET_NAMES,
  TRAIN_PRESETS,
  TrainError,
  trainLr,
  type TrainConfig,
  type TrainConfigOverrides,
  type TrainPreset,
  type TrainPresetName,
} from './config.js';
export { resolveBaselineTarget, resolveTrainTarget, type BaselineTargetOptions, type TargetOptions, type TrainTarget } from './genotype-source.js';
export {
  buildNetwork,
  networkCost,
  runTraining,
  trainFiles,
  type StoredTarget,
  type TrainCost,
  type TrainFiles,
  type TrainHooks,
  type TrainOptions,
  type TrainResult,
  type TrainState,
  type TrainSummary,
} from './train.js';
export { loadTrainedNetwork, type TrainedNetwork } from './load.js';
export { validationPsnr } from './validation.js';
