export { BACKEND_NAMES, parseBackendName, type BackendInfo, type BackendName, type ResolvedBackend } from './backend.js';
export type { ConvQuantizer, ConvQuantizerFactory, ConvSite } from './conv-quant.js';
export { trainableVariables, type ForwardContext, type Module } from './module.js';
export {
  convMacsPerPixel,
  parsePrimitive,
  primitiveConvs,
  primitiveMacsPerPixel,
  type ConvShape,
  type KernelSize,
  type Primitive,
  type PrimitiveId,
} from './primitives.js';
export { tf, type Tensor4D } from './tf.js';
export * from './backend/index.js';
export * from './ops/index.js';
export * from './fused/index.js';
