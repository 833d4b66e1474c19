export { BACKEND_NAMES, parseBackendName, type BackendInfo, type BackendName, type ResolvedBackend, type WebGpuAdapterSummary } from '../backend.js';
export { currentBackend, DEFAULT_BACKEND, ensureBackend, initBackend, type InitBackendOptions } from './select.js';
export { BackendUnavailableError } from './optional-module.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/index.js';
export { isSoftwareAdapter, probeWebGpu, type WebGpuProbe } from './webgpu.js';
export { TENSORFLOW_PACKAGES } from './tensorflow.js';
export {
  benchTrainStep,
  benchWasmKernels,
  createReferenceNet,
  createTrainStep,
  REFERENCE_NET,
  type TrainStep,
  type TrainStepBench,
  type TrainStepBenchOptions,
  type WasmKernelBench,
  type WasmKernelBenchOptions,
  type WasmKernelCase,
} from '../bench/index.js';
