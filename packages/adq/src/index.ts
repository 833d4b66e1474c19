export { DEFAULT_ADQ_OPTIONS, type AdqOptions } from './adq-options.js';
export { createAdqUnit, type AdqUnit, type AdqUnitConfig } from './adq-unit.js';
export { adqScale, perSampleDeviation } from './deviation.js';
export { perSampleDeviationTensor } from './deviation-op.js';
