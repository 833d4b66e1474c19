export { ActivationQuantizer, type ActivationQuantizerOptions, type ActivationStepKind } from './activation-quantizer.js';
export { parseBitList } from './bit-list.js';
export { BIT_WIDTHS, HWGQ_STEPS, isBitWidth, parseBitWidth, type BitWidth } from './bits.js';
export { bitops, costReport, STANDARD_COST_INPUT, type CostedLayer, type CostReport, type LayerCost } from './cost-report.js';
export { DirectConvQuantizer, directQuantizers, type DirectQuantizerOptions } from './direct-quantizers.js';
export { activationInitialStep, activationLevels, hwgqFixedStep, hwgqQuantize, imageStep } from './hwgq.js';
export { activationCodes, dequantizeActivations, dequantizeWeights, integerWeights, roundHalfEven, type IntegerWeights } from './integer.js';
export { lsqGradScale, lsqInitialStep, lsqQuantize, lsqRange, quantizedBits, type LsqRange } from './lsq.js';
export { LsqWeightQuantizer, type LsqWeightQuantizerOptions } from './lsq-weight-quantizer.js';
export {
  NOISE_EVALUATIONS,
  NoiseConvQuantizer,
  noiseQuantizers,
  type NoiseEvaluation,
  type NoiseQuantizerOptions,
  type NoiseRequest,
  type NoiseSampler,
} from './noise-quantizers.js';
export { noiseSeed } from './noise-seed.js';
export { QatConvQuantizer, qatQuantizers, type IntegerConvExport, type QatLayerSpec } from './qat-quantizers.js';
export {
  quantNoiseExpectation,
  quantNoiseRounded,
  quantNoiseMix,
  quantNoiseStep,
  quantNoiseWeights,
  unitNoise,
  type NoiseGradient,
  type NoiseKind,
  type QuantNoiseMixInput,
} from './quant-noise.js';
export type { ActivationScheme, LayerQuant, QuantSpec, WeightScheme } from './quant-spec.js';
export { parseQuantKernels, probabilitySlice, QUANT_KERNELS, type QuantKernels } from './quant-kernels.js';
export {
  fillUnitNoise,
  fusedHwgq,
  fusedLsq,
  fusedNoiseMix,
  fusedSimdActive,
  fusedWeightedSum,
  type NoiseMixAttrs,
  type WeightedSumAttrs,
} from './fused/index.js';
export { clampSte, insideMask, roundSte, scaleGradient, stopGradient } from './ste.js';
