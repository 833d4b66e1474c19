export {
  defaultWorkerScript,
  SearchWorkerError,
  shardSizes,
  startDataParallel,
  type DataParallel,
  type DataParallelOptions,
  type SummedGradients,
} from './coordinator.js';
