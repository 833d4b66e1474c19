export {
  ARTIFACT_SCHEMA_VERSION,
  type AdqScaleLayer,
  type ArtifactLayer,
  type ConvLayer,
  type ElementwiseLayer,
  type ModelArtifactHeader,
  type TensorDType,
  type TensorRef,
  type UnaryLayer,
} from './artifact-header.js';
export { ArtifactError, decodeArtifact, encodeArtifact, type ModelArtifact } from './container.js';
export { crc32 } from './crc32.js';
export type { InferenceEvent } from './events.js';
export {
  convGeometry,
  packInt4,
  unpackInt4,
  type ConvGeometry,
  type ConvOutput,
  type ConvParams,
  type PackedInt4,
} from './conv-spec.js';
export { conv2dReference, requantizeUint8, roundHalfEven, scaleAccumulator } from './conv-reference.js';
export {
  IntegerKernels,
  WasmConv,
  loadIntegerKernels,
  supportsRelaxedSimd,
  type ConvKernelChoice,
  type LoadKernelsOptions,
  type WasmSource,
} from './wasm-kernels.js';
export { WasmHeap } from './wasm-heap.js';
