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
