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
export {
  checkTrainWidth,
  resolveBaselineTarget,
  resolveTrainTarget,
  type BaselineTargetOptions,
  type TargetOptions,
  type TrainTarget,
} from './genotype-source.js';
export { buildNetwork, networkCost } from './network.js';
export { runTraining, trainFiles } from './train.js';
export type { StoredTarget, TrainCost, TrainFiles, TrainHooks, TrainOptions, TrainResult, TrainState, TrainSummary } from './train-types.js';
export { loadTrainedNetwork, type TrainedNetwork } from './load.js';
export { validationPsnr } from './validation.js';
