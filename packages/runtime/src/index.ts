export {
  ARTIFACT_SCHEMA_VERSION,
  type AdqScaleLayer,
  type AffineLayer,
  type ArtifactCost,
  type ArtifactLayer,
  type BilinearResizeLayer,
  type BinaryLayer,
  type BlobRef,
  type ClampLayer,
  type ConcatLayer,
  type ConvLayer,
  type LayerOp,
  type MaxPoolLayer,
  type ModelArtifactHeader,
  type PixelShuffleLayer,
  type QuantizeLayer,
  type RepeatChannelsLayer,
  type SigmoidLayer,
  type TensorInfo,
} from './artifact-header.js';
export { adqFactor, bilinearTaps, inferSizes, outputByte, validateArtifact, type GraphLayer, type GraphTensor, type ModelGraph } from './graph.js';
export { createSession, type LayerTime, type Session, type SessionInfo, type SessionOptions, type SessionProfile, type UpscaleOptions } from './engine.js';
export { runReference } from './reference-engine.js';
export type { RgbImage } from './image.js';
export { planGraph, type Pass, type Plan, type PlanOptions, type Statistic } from './plan.js';
export { syntheticRfdn, type SyntheticRfdnOptions } from './synthetic-model.js';
export { ArtifactError, decodeArtifact, encodeArtifact, type ModelArtifact } from './container.js';
export { BlobWriter } from './blob-writer.js';
export { crc32 } from './crc32.js';
export type { InferenceEvent } from './events.js';
export { convGeometry, packInt4, unpackInt4, type ConvGeometry, type ConvOutput, type ConvParams, type PackedInt4 } from './conv-spec.js';
export { conv2dReference, requantizeUint8, roundHalfEven, scaleAccumulator } from './conv-reference.js';
export {
  IntegerKernels,
  WasmConv,
  loadIntegerKernels,
  supportsRelaxedSimd,
  type ConvCodes,
  type ConvResidual,
  type ConvKernelChoice,
  type LoadKernelsOptions,
  type WasmSource,
} from './wasm-kernels.js';
export { WasmHeap } from './wasm-heap.js';
export { chooseMemory, MEMORY_BUDGET, wholeImageBuffers } from './memory-budget.js';
