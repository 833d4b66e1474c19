export { DEFAULT_ADQ_OPTIONS, type AdqOptions } from './adq-options.js';
export { adqScale, perSampleDeviation } from './deviation.js';
