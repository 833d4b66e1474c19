export type { MetricOptions } from './protocol.js';
export { standardProtocol, checkMetricOptions } from './protocol.js';
export type { Plane, RgbToYOptions } from './color.js';
export { rgbToY } from './color.js';
export { psnr } from './psnr.js';
export { ssim, SSIM_WINDOW, SSIM_SIGMA } from './ssim.js';
export type { EvaluateOptions, EvaluationEvent, EvaluationResult, ImageResult, SetResult, SrModel, UpscaleInfo } from './evaluate.js';
export { evaluate } from './evaluate.js';
export { kendallTau } from './rank.js';
