// tfjs-backend-webgpu 4.22 compiles AddN into one shader that binds every input as its own storage
// buffer, and it creates its device without raising `maxStorageBuffersPerShaderStage` (WebGPU's
// default, 8, even where the adapter offers more). An addN over more inputs than that fails
// pipeline validation: Dawn prints "The number of storage buffers (N) in the Compute stage exceeds
// the maximum per-stage limit (8)" and the result is garbage (zeros on lavapipe), not an error. A
// search step's gradient norm and BitOps/entropy sums reach dozens of inputs.
//
// This AddN sums in chunks that fit: at most limit − 1 inputs per shader (the output takes a
// binding too), left to right, each chunk's sum the first input of the next. The order of the
// additions is that of a single left-to-right sum, so results equal the cpu backend's.
import { tf } from '../../tf.js';
import type { TensorInfo } from './wasm-util.js';

/** WebGPU's default `maxStorageBuffersPerShaderStage`: every device has at least this many. */
export const WEBGPU_DEFAULT_STORAGE_BUFFERS = 8;

interface WebGpuBackendLike {
  readonly device?: { readonly limits?: { readonly maxStorageBuffersPerShaderStage?: number } };
  disposeData(dataId: object): boolean;
}

/** How many inputs one AddN shader may bind on this backend's device. */
export function addNChunkSize(backend: object): number {
  const limit = (backend as WebGpuBackendLike).device?.limits?.maxStorageBuffersPerShaderStage ?? WEBGPU_DEFAULT_STORAGE_BUFFERS;
  return Math.max(2, limit - 1);
}

/** The chunked AddN, running the backend's own AddN (`original`) on each chunk. */
export function chunkedAddNConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const chunk = addNChunkSize(args.backend);
    const run = (part: TensorInfo[]) => original.kernelFunc({ ...args, inputs: part as unknown as tf.NamedTensorInfoMap }) as TensorInfo;
    if (inputs.length <= chunk) return run(inputs);
    let sum = run(inputs.slice(0, chunk));
    for (let start = chunk; start < inputs.length; start += chunk - 1) {
      const next = run([sum, ...inputs.slice(start, start + chunk - 1)]);
      // Safe before the next shader runs: the backend defers the release of buffers its queue uses.
      (args.backend as WebGpuBackendLike).disposeData(sum.dataId);
      sum = next;
    }
    return sum;
  };
  return { kernelName: tf.AddN, backendName: 'webgpu', kernelFunc };
}
