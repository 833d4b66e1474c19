export { eventLine, parseEventLog, type GenotypeBlocks, type SearchEvent, type TrainEvent } from './events.js';
export { clipByGlobalNorm, createAdam, type Adam, type AdamOptions } from './adam.js';
export {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAGIC,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadLatestCheckpoint,
  previousCheckpointPath,
  readCheckpoint,
  writeCheckpointFile,
  type CheckpointContents,
  type LoadedCheckpoint,
  type StoredTensor,
} from './checkpoint.js';
export { BIT_WIDTHS } from '@quantnas/search-spaces';
export {
  DERIVE_METHODS,
  ENTROPY_KINDS,
  PATH_SAMPLINGS,
  SearchError,
  type BitWidth,
  type DeriveMethod,
  type EntropyKind,
  type PathSampling,
  type SearchConfig,
  type SearchOptionsOverrides,
} from './config.js';
export { PRESET_NAMES, PRESETS, type Preset, type PresetName } from './presets.js';
export { resolveSearchConfig } from './resolve-config.js';
export { spaceDocumentShape, type DocumentShape } from './space-document.js';
export { cosineLr, entropyScheduleWeight } from './schedule.js';
export { alphaObjective, alphaStep, weightStep, type AlphaStepInfo, type AlphaStepOptions, type LatencyTerm } from './steps.js';
export {
  checkLatencyTable,
  latencyCheckGenotypes,
  latencySpace,
  measureLatencyTable,
  randomGenotypes,
  type LatencyCheck,
  type LatencyCheckRow,
  type LatencyMeasureOptions,
  type LatencyTableOptions,
} from './latency/measure.js';
export {
  checkTableFits,
  LATENCY_TABLE_KIND,
  latencyPairCosts,
  LatencyTableError,
  pairKey,
  parseLatencyTable,
  predictLatency,
  uniformLatency,
  type LatencyEngine,
  type LatencyEntry,
  type LatencyTable,
} from './latency/table.js';
export {
  runSearch,
  searchFiles,
  type GenotypeRecord,
  type SearchFiles,
  type SearchHooks,
  type SearchOptions,
  type SearchResult,
  type SearchSummary,
} from './search.js';
export {
  benchSearchStep,
  benchTrainStep,
  searchBenchShape,
  type NetworkStepCost,
  type ParallelStepProfile,
  type PathComparison,
  type SearchStepBench,
  type SearchStepBenchOptions,
  type StepCost,
  type TrainStepBench,
  type TrainStepBenchOptions,
} from './bench.js';
export { assignPath, derivePath, validationL1, type PathDerivation, type PathDerivationOptions } from './derive.js';
export {
  diagnoseSearch,
  type BitSensitivity,
  type DiagnoseEvent,
  type DiagnoseHooks,
  type DiagnoseOptions,
  type DiagnosedGenotype,
  type Diagnosis,
} from './diagnose.js';
export * from './export/index.js';
export * from './train/index.js';
export {
  defaultWorkerScript,
  SearchWorkerError,
  shardSizes,
  startDataParallel,
  type DataParallel,
  type DataParallelOptions,
  type ParallelProfile,
  type SummedGradients,
} from './parallel/index.js';
