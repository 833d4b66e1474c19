export { blockDiagonalFilter, conv2d, createConv, kaimingUniform } from './conv.js';
export { bicubicUpsampleFilter, BICUBIC_UPSAMPLE_KERNEL } from './bicubic-filter.js';
export type { Conv, Conv2dOptions, ConvConfig, ConvPadding, GroupedConvMethod } from './conv.js';
export { plainConvQuantizer, plainQuantizers } from './plain-quantizer.js';
export { createPrimitive, type PrimitiveConfig, type PrimitiveModule } from './primitive.js';
export { pixelShuffle } from './pixel-shuffle.js';
export { addRepeatedChannels, repeatChannels } from './channel-repeat.js';
export { bilinearMatrix, resizeBilinear } from './bilinear.js';
export { maxPool, validOutputSize } from './max-pool.js';
export { createEsa, ESA_MIN_SIZE, type Esa, type EsaConfig } from './esa.js';
export { createBatchNorm, foldBatchNorm, type BatchNorm, type BatchNormConfig } from './batch-norm.js';
export { hashSeed, seededUniform } from './seeded-random.js';
export { variableFrom } from './checks.js';
export {
  checkGradients,
  type GradientCheckOptions,
  type GradientCheckReport,
  type GradientSample,
  type TensorGradientCheck,
} from './gradient-check.js';
