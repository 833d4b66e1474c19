export { fusedSimdActive } from './simd.js';
export { fusedHwgq, fusedLsq } from './fake-quant.js';
export { fusedNoiseMix, type NoiseMixAttrs } from './noise-mix.js';
export { fillUnitNoise } from './unit-noise.js';
export { fusedWeightedSum, type WeightedSumAttrs } from './weighted-sum.js';
