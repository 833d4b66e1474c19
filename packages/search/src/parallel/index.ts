export {
  defaultWorkerScript,
  SearchWorkerError,
  shardSizes,
  startDataParallel,
  type DataParallel,
  type DataParallelOptions,
  type ParallelProfile,
  type SummedGradients,
} from './coordinator.js';
