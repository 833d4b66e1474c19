export type { Baseline, Experiment, RunOptionKey, RunOptions, RunOptionValue, SweepJob, Variant } from './experiment.js';
export {
  canonicalJson,
  expandExperiment,
  ExperimentError,
  jobId,
  parseExperiment,
  readExperiment,
  RUN_OPTION_KEYS,
  runArgs,
  SEARCH_ONLY_KEYS,
} from './experiment.js';
export type { PackedResults, SweepManifest } from './sweep-dir.js';
export {
  DEFAULT_MAX_RESULT_BYTES,
  isJobDone,
  jobDir,
  manifestJobs,
  packResults,
  readSweepManifest,
  relativeRunJson,
  RESULT_FILES,
  SweepError,
  unpackResults,
  writeSweepManifest,
} from './sweep-dir.js';
export type { EmbeddedOptions, JobExecution, JobExecutor, JobProgress, SweepEvent, SweepOutcome } from './engine.js';
export { parseStageLine, runEmbedded } from './engine.js';
export type { CollectOptions, JobStatus, QueuedJobData, QueueJobState, SubmitOptions, SweepStatus, WorkerEvent, WorkerOptions } from './queue.js';
export {
  checkRedis,
  collectSweep,
  DEFAULT_ATTEMPTS,
  DEFAULT_LOCK_MS,
  directoryStatus,
  MAX_STALLED_COUNT,
  QUEUE_REGISTRY_KEY,
  queueName,
  queueStatus,
  redisOptions,
  runWorker,
  submitSweep,
} from './queue.js';
