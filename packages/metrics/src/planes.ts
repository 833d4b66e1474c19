import type { ImageF32, ImageU8 } from '@quantnas/data';
import { DataError } from '@quantnas/data';
import { channelPlane, quantizeToUint8, rgbToY, type Plane } from './color.js';
import { checkMetricOptions, type MetricOptions } from './protocol.js';

/** The pairs of planes a metric compares, already shaved. */
export interface MeasuredPlanes {
  readonly width: number;
  readonly height: number;
  /** [sr, hr] per measured channel. */
  readonly pairs: readonly (readonly [Float64Array, Float64Array])[];
}

function describe(img: ImageU8 | ImageF32): string {
  return `${img.width}×${img.height}×${img.channels}`;
}

function checkImage(img: ImageU8 | ImageF32, role: string, metric: string): void {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new DataError(`${metric}: ${role} image has an invalid size ${String(width)}×${String(height)}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new DataError(`${metric}: ${role} image has ${String(channels)} channels; expected 1 or 3`);
  }
  if (data.length !== width * height * channels) {
    throw new DataError(`${metric}: ${role} image ${describe(img)} holds ${data.length} values, expected ${width * height * channels}`);
  }
}

function crop(p: Plane, shave: number): Float64Array {
  if (shave === 0) return p.data;
  const w = p.width - 2 * shave;
  const h = p.height - 2 * shave;
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = (y + shave) * p.width + shave;
    out.set(p.data.subarray(row, row + w), y * w);
  }
  return out;
}

/**
 * Validates a pair and turns it into the planes to compare under `options`: quantized to uint8
 * if asked, reduced to luma (or gray) if asked, shaved. `minSize` is the smallest side the metric
 * can work on after shaving.
 */
export function measuredPlanes(sr: ImageU8 | ImageF32, hr: ImageU8 | ImageF32, options: MetricOptions, metric: string, minSize = 1): MeasuredPlanes {
  checkMetricOptions(options);
  checkImage(sr, 'SR', metric);
  checkImage(hr, 'HR', metric);
  if (sr.width !== hr.width || sr.height !== hr.height || sr.channels !== hr.channels) {
    throw new DataError(`${metric}: SR image is ${describe(sr)} but HR image is ${describe(hr)} (W×H×C)`);
  }
  const { shave } = options;
  const width = sr.width - 2 * shave;
  const height = sr.height - 2 * shave;
  if (width < minSize || height < minSize) {
    throw new DataError(
      `${metric}: shave ${shave} leaves ${Math.max(width, 0)}×${Math.max(height, 0)} of a ${sr.width}×${sr.height} image; ` +
        `need at least ${minSize}×${minSize}`,
    );
  }
  const a = options.roundToUint8 ? quantizeToUint8(sr) : sr;
  const b = options.roundToUint8 ? quantizeToUint8(hr) : hr;
  const pairs: (readonly [Float64Array, Float64Array])[] = [];
  if (options.yChannel && a.channels === 3) {
    // Float luma: this is what reproduces the published tables (see RgbToYOptions.round).
    pairs.push([crop(rgbToY(a), shave), crop(rgbToY(b), shave)]);
  } else {
    for (let c = 0; c < a.channels; c++) {
      pairs.push([crop(channelPlane(a, c), shave), crop(channelPlane(b, c), shave)]);
    }
  }
  return { width, height, pairs };
}
