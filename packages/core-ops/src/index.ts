export { BACKEND_NAMES, parseBackendName, type BackendInfo, type BackendName, type ResolvedBackend } from './backend.js';
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
