export { createReferenceNet, REFERENCE_NET } from './reference-net.js';
export { benchTrainStep, createTrainStep, type TrainStep, type TrainStepBench, type TrainStepBenchOptions } from './train-step.js';
export { benchWasmKernels, type WasmKernelBench, type WasmKernelBenchOptions, type WasmKernelCase } from './wasm-kernels.js';
