/** Keys' cubic convolution kernel with a = −0.5, the kernel of MATLAB's `imresize(..., 'bicubic')`. */
function cubic(x: number): number {
  const t = Math.abs(x);
  if (t <= 1) return 1.5 * t ** 3 - 2.5 * t ** 2 + 1;
  if (t < 2) return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2;
  return 0;
}

/** The kernel size of `bicubicUpsampleFilter`: every phase's four taps lie within ±2 LR pixels. */
export const BICUBIC_UPSAMPLE_KERNEL = 5;

/**
 * Bicubic upscaling by an integer factor as a grouped conv followed by a pixel shuffle: the filter
 * [5, 5, 1, channels·scale²] (groups = channels) whose output channel c·s² + i·s + j holds the
 * phase (i, j) of image channel c, in PyTorch's pixel-shuffle order. With half-pixel centres HR row
 * s·y + i samples LR row y + d_i, d_i = (i + ½)/s − ½, from taps y − 2 … y + 2 weighted cubic(d_i − t).
 * Inside the image this equals MATLAB's bicubic upscaling; at the border 'same' zero padding
 * replaces MATLAB's mirrored samples. A network starting from it starts at bicubic quality.
 */
export function bicubicUpsampleFilter(channels: number, scale: number): Float32Array {
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`bicubicUpsampleFilter: channels must be a positive integer, got ${channels}`);
  if (!Number.isInteger(scale) || scale < 2) throw new Error(`bicubicUpsampleFilter: scale must be an integer ≥ 2, got ${scale}`);
  const k = BICUBIC_UPSAMPLE_KERNEL;
  const half = (k - 1) / 2;
  const phase = Array.from({ length: scale }, (_, i) => {
    const d = (i + 0.5) / scale - 0.5;
    return Array.from({ length: k }, (_, a) => cubic(d - (a - half)));
  });
  const out = channels * scale * scale;
  const filter = new Float32Array(k * k * out);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let c = 0; c < channels; c++) {
        for (let i = 0; i < scale; i++) {
          for (let j = 0; j < scale; j++) {
            filter[(a * k + b) * out + c * scale * scale + i * scale + j] = phase[i]![a]! * phase[j]![b]!;
          }
        }
      }
    }
  }
  return filter;
}
