import { DataError } from '@quantnas/data';

/**
 * How a metric is measured. Every field is required: papers differ on each of them, and a silent
 * default would make numbers incomparable without anyone noticing.
 */
export interface MetricOptions {
  /** Pixels removed from every border before measuring (SR convention: the scale). */
  readonly shave: number;
  /**
   * Measure the BT.601 luma of RGB images (kept as a float, not rounded). A 1-channel image is
   * measured on its gray values directly. When false, every channel is measured.
   */
  readonly yChannel: boolean;
  /**
   * Quantize float images to uint8 (clamp(round(x·255))) before measuring, as saving the output
   * to PNG would. When false, floats are compared on the 0..255 scale. ImageU8 is unaffected.
   */
  readonly roundToUint8: boolean;
}

/** The SR benchmark convention (EDSR, RCAN, SwinIR tables): Y channel, shave = scale, uint8. */
export function standardProtocol(scale: number): MetricOptions {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new DataError(`scale must be a positive integer, got ${String(scale)}`);
  }
  return { shave: scale, yChannel: true, roundToUint8: true };
}

/** Rejects options a JavaScript caller may have left out or mistyped. */
export function checkMetricOptions(options: MetricOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new DataError('metric options are required: { shave, yChannel, roundToUint8 }');
  }
  if (!Number.isInteger(options.shave) || options.shave < 0) {
    throw new DataError(`metric option shave must be a non-negative integer, got ${String(options.shave)}`);
  }
  for (const key of ['yChannel', 'roundToUint8'] as const) {
    if (typeof options[key] !== 'boolean') {
      throw new DataError(`metric option ${key} must be true or false, got ${String(options[key])}`);
    }
  }
}
